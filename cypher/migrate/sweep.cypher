// Step 3: blobs, trees and tags still in Object nodes that no commit's history reached (unreachable
// objects, annotated tags), $limit at a time in id order after $after.
MATCH (o:Object)
WHERE o.id > $after AND o.type <> 'commit'
RETURN o.id AS id, o.type AS type, o.data AS data
ORDER BY o.id
LIMIT $limit
