MATCH (o:Object)
RETURN o.id AS id
