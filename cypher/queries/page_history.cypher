// The history of one page across all branches: every commit that changed it, newest first.
// Parameters: $page, a page id (e.g. 'the-vault-door').
// Returns one row per commit: its short id, time, actor name, the change (add, modify or delete),
// the title of the version it wrote (for a delete, of the version it removed), its subject, and the
// branches whose head holds that very version now (empty when every branch has moved past it).
MATCH (:Page {id: $page})<-[:VERSION_OF]-(v:PageVersion)<-[change:CHANGED]-(c:Commit)
MATCH (c)-[:AUTHORED_BY]->(a:Actor)
RETURN
  c.short_id AS commit,
  c.timestamp AS time,
  a.name AS actor,
  change.op AS op,
  v.title AS title,
  c.subject AS subject,
  COLLECT { MATCH (b:Branch)-[:HAS_PAGE]->(v) RETURN b.name ORDER BY b.name } AS branches
ORDER BY c.time DESC, c.seq DESC
