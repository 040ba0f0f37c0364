// The end of a migration: the database is in layout $version and writable again.
// No row if the migration $me no longer holds the mark.
MATCH (m:Meta {name: 'layout', migrating: $me})
SET m.version = $version
REMOVE m.migrating, m.migrating_since, m.migrating_seen, m.migrated_seq
RETURN m.version AS version
