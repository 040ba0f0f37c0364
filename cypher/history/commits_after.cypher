// Commit objects stored after a reader's watermark, in the order they were stored.
MATCH (c:Commit)
WHERE c.seq > $after
MATCH (o:Object {id: c.id})
RETURN c.seq AS seq, c.id AS id, o.data AS data
ORDER BY seq
