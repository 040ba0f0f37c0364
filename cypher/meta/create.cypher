// Marks an empty database as written in layout $version (two writers may both find it empty).
MERGE (m:Meta {name: 'layout'})
  ON CREATE SET m.version = $version
RETURN m.version AS version
