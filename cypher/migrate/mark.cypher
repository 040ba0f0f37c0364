// Sets the mark of the migration $me (host/pid/token), in the transaction of migrate/lock.cypher: writers
// are refused while it is there. `migrating_seen` is refreshed by every step, so another host can tell a
// live migration from one that was cut short.
MATCH (m:Meta {name: 'layout'})
SET m.migrating = $me, m.migrating_since = timestamp(), m.migrating_seen = timestamp()
RETURN m.migrating AS migrating
