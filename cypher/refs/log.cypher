MATCH (e:RefLogEntry {ref: $ref})
RETURN e.old AS old, e.new AS new, e.who AS who, e.time AS time, e.message AS message
ORDER BY e.seq
