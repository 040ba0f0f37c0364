// Deletes every relationship, a batch at a time (first step of emptying the database: a node with
// many relationships, such as an actor's, would not fit in one transaction with DETACH DELETE).
MATCH ()-[r]->()
CALL (r) {
  DELETE r
} IN TRANSACTIONS OF 10000 ROWS
