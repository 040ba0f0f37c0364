// A new ref (labelled Branch or Tag too), its first reflog entry and the graph around it. The
// uniqueness constraint on Ref.ref refuses a second writer creating the same ref at the same time.
CREATE (r:$($labels) {ref: $ref, name: $name, target: $new, updates: 1})
CREATE (:RefLogEntry {
  ref: $ref, seq: 1, old: $old, new: $new, who: $who, time: $time, message: $message
})
WITH r
CALL (r) {
  MATCH (c:Commit {id: $new})
  CREATE (r)-[:HEAD]->(c)
}
CALL (r) {
  UNWIND $added AS id
  MATCH (v:PageVersion {id: id})
  MERGE (r)-[:HAS_PAGE]->(v)
}
// The governance proposals naming a new branch get their MERGES to it: a proposal can be stored before
// its branches exist here (a copied history may bring the governance branch first), or outlive a branch
// that was deleted and made again.
CALL (r) {
  MATCH (p:Proposal)
  WHERE r:Branch AND $name IN [p.source, p.target]
  CREATE (p)-[:MERGES {role: CASE p.target WHEN $name THEN 'target' ELSE 'source' END}]->(r)
}
