// Commit objects stored after a reader's watermark, in the order they were stored, in chunks of up to
// 5,000 (one record per chunk: per-record overhead, not bytes, dominates a long listing). A commit's
// object is kept on its node as `raw` too, so the listing needs no join with the Object nodes.
MATCH (c:Commit)
WHERE c.seq > $after
WITH c
ORDER BY c.seq
WITH c.seq / 5000 AS chunk, collect(c.id) AS ids, collect(c.raw) AS raws, max(c.seq) AS last
RETURN ids, raws, last
ORDER BY last
