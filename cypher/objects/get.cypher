MATCH (o:Object {id: $id})
RETURN o.type AS type, o.data AS data
