// Moves objects out of Object nodes into one new Pack ($count objects: $data a git pack, $ids its sorted
// binary ids, $offsets their places), in one transaction: the pack is created and the Object nodes of
// the objects it holds ($objects, hex ids) are deleted together, so every object stays readable whenever
// the migration stops. The counter is locked first, as every writer of packs does, so packs become
// visible in the order of their numbers. $after, if given, records how far history packing got.
// No row if the migration $me no longer holds the mark.
MERGE (k:Counter {name: 'commit'})
  ON CREATE SET k.value = 0
SET k.packs = coalesce(k.packs, 0) + 1
WITH k.packs AS seq
MATCH (m:Meta {name: 'layout', migrating: $me})
SET m.migrating_seen = timestamp(), m.migrated_seq = coalesce($after, m.migrated_seq)
CREATE (:Pack {seq: seq, count: $count, data: $data, ids: $ids, offsets: $offsets})
WITH seq
CALL () {
  UNWIND $objects AS id
  MATCH (o:Object {id: id})
  DELETE o
  RETURN count(o) AS moved
}
RETURN seq, moved
