MATCH (r:Ref {ref: $ref})
RETURN r.target AS target
