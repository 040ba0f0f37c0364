// Records that history packing got past commit number $after (for a batch with nothing left to pack).
// No row if the migration $me no longer holds the mark.
MATCH (m:Meta {name: 'layout', migrating: $me})
SET m.migrating_seen = timestamp(), m.migrated_seq = $after
RETURN m.migrated_seq AS after
