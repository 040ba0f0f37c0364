// Marks a database that holds no object yet as written in layout $version (two writers may both find it
// empty; the Meta node is unique by name).
MERGE (m:Meta {name: 'layout'})
SET m.version = coalesce(m.version, $version)
RETURN m.version AS version, m.migrating AS migrating
