MERGE (s:SymbolicRef {name: $name})
SET s.target = $target
