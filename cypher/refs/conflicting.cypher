// git cannot hold a ref a and a ref a/b at once.
MATCH (r:Ref)
WHERE r.ref STARTS WITH $ref + '/' OR $ref STARTS WITH r.ref + '/'
RETURN r.ref AS ref
LIMIT 1
