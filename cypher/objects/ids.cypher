// The ids of the objects stored outside packs: commits, and objects of the old layout.
CALL () {
  MATCH (c:Commit)
  RETURN c.id AS id
  UNION
  MATCH (o:Object)
  RETURN o.id AS id
}
RETURN id
