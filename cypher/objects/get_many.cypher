UNWIND $ids AS id
MATCH (o:Object {id: id})
RETURN o.id AS id, o.type AS type, o.data AS data
