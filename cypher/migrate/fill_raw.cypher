// Step 1: up to $limit Commit nodes stored before commits kept their raw object get it from their Object
// node. No row if the migration $me no longer holds the mark (another took it over).
MATCH (m:Meta {name: 'layout', migrating: $me})
SET m.migrating_seen = timestamp()
WITH m
CALL () {
  MATCH (c:Commit)
  WHERE c.raw IS NULL
  MATCH (o:Object {id: c.id, type: 'commit'})
  WITH c, o
  LIMIT $limit
  SET c.raw = o.data
  RETURN count(c) AS filled
}
RETURN filled
