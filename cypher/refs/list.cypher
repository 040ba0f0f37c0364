MATCH (r:Ref)
WHERE r.ref STARTS WITH $prefix
RETURN r.ref AS ref, r.target AS target
ORDER BY ref
