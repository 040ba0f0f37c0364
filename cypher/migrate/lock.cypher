// The start of a migration: lock the commit counter (every writer of objects locks it first, and checks
// the layout while it holds it, so a writer either ends before the mark is set or sees it), then the
// Meta node, and tell who holds the mark now, if anyone, and where history packing stopped.
MERGE (k:Counter {name: 'commit'})
  ON CREATE SET k.value = 0
SET k.value = k.value
MERGE (m:Meta {name: 'layout'})
RETURN
  m.version AS version,
  m.migrating AS migrating,
  timestamp() - m.migrating_seen AS quiet,
  coalesce(m.migrated_seq, 0) AS after
