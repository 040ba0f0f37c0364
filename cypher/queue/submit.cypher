// Queues change sets of a group commit for a branch another process is writing (see
// narrative_vcs/graph/neo4j/queue.py): one QueuedCommit per change set, in order of their tickets, and
// the branch's QueueTurn, made on first use. Nothing is queued (no row) when the ref does not exist.
MATCH (r:Ref {ref: $ref})
MERGE (t:QueueTurn {ref: $ref})
  ON CREATE SET t.turns = 0
WITH t
CALL (t) {
  UNWIND $items AS item
  CREATE (:QueuedCommit {ref: $ref, ticket: item.ticket, at: $at, payload: item.payload})
}
RETURN count(*) AS queued
