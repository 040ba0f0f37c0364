MATCH (o:Object)
WHERE o.id STARTS WITH $prefix
RETURN o.id AS id
ORDER BY id
