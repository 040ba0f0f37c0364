// Drops the commit Object nodes $ids, whose Commit node holds the same commit; $repairs ({id, raw}) first
// gives a Commit node whose raw object was wrong the one its Object node holds.
// No row if the migration $me no longer holds the mark.
MATCH (m:Meta {name: 'layout', migrating: $me})
SET m.migrating_seen = timestamp()
WITH m
CALL () {
  UNWIND $repairs AS r
  MATCH (c:Commit {id: r.id})
  SET c.raw = r.raw
}
CALL () {
  UNWIND $ids AS id
  MATCH (o:Object {id: id})
  DELETE o
  RETURN count(o) AS dropped
}
RETURN dropped
