// Raw git objects, in a database of the first layout (a node per object; see meta/layout.cypher).
// They are immutable and named by their content: a second put changes nothing.
UNWIND $objects AS row
MERGE (o:Object {id: row.id})
  ON CREATE SET o.type = row.type, o.data = row.data
