// Step 4: commit Object nodes, $limit at a time in id order after $after, each with its Commit node's raw
// object if it has one (a commit is stored on its Commit node in layout 2).
MATCH (o:Object)
WHERE o.id > $after AND o.type = 'commit'
OPTIONAL MATCH (c:Commit {id: o.id})
RETURN o.id AS id, o.data AS data, c IS NOT NULL AS node, c.raw AS raw
ORDER BY o.id
LIMIT $limit
