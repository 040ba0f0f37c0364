// Takes the ref's write lock (held until the transaction ends) and returns its value read after.
MATCH (r:Ref {ref: $ref})
SET r.updates = r.updates + 1
RETURN r.target AS target
