// Deletes the whole graph (tests and `gvcs init --store neo4j://... --force`).
MATCH (n)
CALL (n) {
  DETACH DELETE n
} IN TRANSACTIONS OF 10000 ROWS
