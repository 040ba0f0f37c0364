MATCH (s:SymbolicRef {name: $name})
RETURN s.target AS target
