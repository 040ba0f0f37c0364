// The end of a turn, in its transaction: the change sets it wrote leave the queue, and the results of
// the other processes' ones wait for them. Results nobody came for within $stale ms are dropped.
CALL () {
  MATCH (q:QueuedCommit)
  WHERE q.ticket IN $taken
  DELETE q
}
CALL () {
  MATCH (o:QueuedResult)
  WHERE o.at < $stale
  DELETE o
}
CALL () {
  UNWIND $results AS r
  CREATE (:QueuedResult {ticket: r.ticket, result: r.result, at: $at})
}
RETURN true AS done
