// Deletes every node, a batch at a time (after admin/clear_relationships): tests, and emptying a
// database before it receives a story.
MATCH (n)
CALL (n) {
  DELETE n
} IN TRANSACTIONS OF 5000 ROWS
