// The objects of a batch and the graph of the commits among them, in one statement (layout 2, see
// meta/layout.cypher): blobs, trees and tags arrive as packs ($packs: whole git packs with their sorted
// ids and offsets), each a new Pack node; a commit is stored on its Commit node only (`raw`).
// The counter is locked first, so writers of commits take their locks in one order and never deadlock
// one another. Commits and packs get numbers in the order they are stored (Commit.seq, Pack.seq). The
// counter stays locked until the transaction ends, so both become visible in the order of their numbers:
// a reader that saw number n has seen everything below it. Nodes this statement creates get
// relationships with CREATE; nodes stored before are left as they are, so storing a batch twice changes
// nothing in the graph people read (its packs are stored twice, which readers do not mind).
// The guard: once the counter is locked, the database must be in layout 2 with no migration under way
// (`gvcs migrate` locks the counter to set its mark), else nothing is written and no row is returned,
// and the writer refuses (a process that checked the layout before a migration began writes nothing).
MERGE (k:Counter {name: 'commit'})
  ON CREATE SET k.value = 0
SET k.value = k.value + size($commits), k.packs = coalesce(k.packs, 0) + size($packs)
WITH k.value - size($commits) AS first, k.packs - size($packs) AS firstPack
MATCH (meta:Meta {name: 'layout', version: 2})
WHERE meta.migrating IS NULL
WITH first, firstPack
CALL (firstPack) {
  UNWIND range(0, size($packs) - 1) AS i
  WITH $packs[i] AS p, firstPack + i + 1 AS seq
  CREATE (:Pack {seq: seq, count: p.count, data: p.data, ids: p.ids, offsets: p.offsets})
}
CALL () {
  UNWIND $actors AS a
  MERGE (n:Actor {id: a.id})
  SET n.name = a.name, n.kind = a.kind, n.archetype = a.archetype
}
CALL (first) {
  UNWIND range(0, size($commits) - 1) AS i
  WITH $commits[i] AS c, first + i + 1 AS seq
  MERGE (n:Commit {id: c.id})
    ON CREATE SET
      n.seq = seq,
      n.short_id = substring(c.id, 0, 10),
      n.tree = c.tree,
      n.subject = c.subject,
      n.message = c.message,
      n.actor = c.actor,
      n.kind = c.kind,
      n.time = c.time,
      n.timestamp = datetime({epochSeconds: c.time}),
      n.event_id = c.event_id,
      n.raw = c.raw
  // Relationships only for the commits this statement created (a commit stored before keeps its own).
  WITH n, c, seq
  WHERE n.seq = seq
  MERGE (a:Actor {id: c.actor})
    ON CREATE SET a.name = c.actor_name
  CREATE (n)-[:AUTHORED_BY]->(a)
  WITH n, c
  UNWIND range(0, size(c.parents) - 1) AS p
  MATCH (parent:Commit {id: c.parents[p]})
  CREATE (n)-[:PARENT {order: p}]->(parent)
}
CALL (first) {
  UNWIND $versions AS v
  MERGE (p:Page {id: v.page})
  SET p.title = v.title
  MERGE (pv:PageVersion {id: v.id})
    ON CREATE SET
      pv.page = v.page,
      pv.blob = v.blob,
      pv.title = v.title,
      pv.words = v.words,
      pv.tags = v.tags,
      pv.batch = first
  WITH p, pv, v
  WHERE pv.batch = first
  CREATE (pv)-[:VERSION_OF]->(p)
  FOREACH (target IN v.follows | MERGE (t:Page {id: target}) CREATE (pv)-[:FOLLOWS]->(t))
  FOREACH (target IN v.alternate_of | MERGE (t:Page {id: target}) CREATE (pv)-[:ALTERNATE_OF]->(t))
  FOREACH (target IN v.links | MERGE (t:Page {id: target}) CREATE (pv)-[:LINKS_TO]->(t))
}
CALL (first) {
  UNWIND $changes AS ch
  MATCH (c:Commit {id: ch.commit})
  WHERE c.seq > first
  MATCH (v:PageVersion {id: ch.version})
  CREATE (c)-[:CHANGED {op: ch.op}]->(v)
}
// Governance proposals: a proposal node per number, rewritten only by a newer revision of its file (a batch
// stored again, or an older revision arriving later, changes nothing). MERGES points at the source and the
// target branch (role), VOTED comes from each voter.
CALL () {
  UNWIND $proposals AS pr
  MERGE (p:Proposal {number: pr.number})
  WITH p, pr
  WHERE coalesce(p.revision, 0) < pr.revision
  SET
    p.status = pr.status,
    p.revision = pr.revision,
    p.message = pr.message,
    p.source = pr.source,
    p.target = pr.target,
    p.proposer = pr.proposer,
    p.opened = datetime({epochSeconds: pr.opened}),
    p.closes = datetime({epochSeconds: pr.closes}),
    p.yes = pr.yes,
    p.no = pr.no,
    p.voters = pr.voters,
    p.result = pr.result,
    p.result_commit = pr.result_commit
  WITH p, pr
  CALL (p) {
    MATCH (p)-[m:MERGES]->()
    DELETE m
  }
  CALL (p) {
    MATCH ()-[v:VOTED]->(p)
    DELETE v
  }
  CALL (p, pr) {
    UNWIND pr.branches AS b
    MATCH (branch:Branch {name: b.name})
    CREATE (p)-[:MERGES {role: b.role}]->(branch)
  }
  CALL (p, pr) {
    UNWIND pr.votes AS vote
    MERGE (a:Actor {id: vote.actor})
    CREATE (a)-[:VOTED {choice: vote.choice, weight: vote.weight, stake: vote.stake}]->(p)
  }
}
RETURN first AS written
