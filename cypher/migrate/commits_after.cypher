// Step 2: the next $limit commits in the order they were stored (Commit.seq), after $after.
MATCH (c:Commit)
WHERE c.seq > $after
RETURN c.id AS id, c.raw AS raw, c.seq AS seq
ORDER BY c.seq
LIMIT $limit
