// The ids starting with $prefix of the objects stored outside packs (commits, and the old layout).
CALL () {
  MATCH (c:Commit)
  WHERE c.id STARTS WITH $prefix
  RETURN c.id AS id
  UNION
  MATCH (o:Object)
  WHERE o.id STARTS WITH $prefix
  RETURN o.id AS id
}
RETURN id
ORDER BY id
