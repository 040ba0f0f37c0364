MATCH (r:Ref {ref: $ref})
OPTIONAL MATCH (e:RefLogEntry {ref: $ref})
DETACH DELETE r, e
