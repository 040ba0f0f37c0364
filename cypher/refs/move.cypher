// A compare-and-swap of a ref, with its reflog entry and the graph around it, in one statement.
// SET takes the ref's write lock first, so the value read next is the latest committed one and two
// writers cannot both see the old value. The caller compares it with the value it expected and rolls
// the transaction back when they differ: nothing below is kept then.
MATCH (r:Ref {ref: $ref})
SET r.updates = r.updates + 1
WITH r, r.target AS current
SET r.target = $new
CREATE (:RefLogEntry {
  ref: $ref, seq: r.updates, old: current, new: $new, who: $who, time: $time, message: $message
})
WITH r, current
CALL (r) {
  MATCH (r)-[h:HEAD]->()
  DELETE h
}
CALL (r) {
  MATCH (c:Commit {id: $new})
  CREATE (r)-[:HEAD]->(c)
}
CALL (r) {
  UNWIND $removed AS id
  MATCH (r)-[h:HAS_PAGE]->(:PageVersion {id: id})
  DELETE h
}
CALL (r) {
  UNWIND $added AS id
  MATCH (v:PageVersion {id: id})
  MERGE (r)-[:HAS_PAGE]->(v)
}
RETURN current
