// The alternates of a page that some branch holds now, and the branches that hold them.
// Parameters: $page, the id of the page the alternates stand in for (e.g. 'the-reckoning').
// Returns one row per alternate version on a branch head: the alternate page's id, the title of that
// version and the branches whose head holds it. Alternates no branch holds any more are left out.
MATCH (:Page {id: $page})<-[:ALTERNATE_OF]-(v:PageVersion)<-[:HAS_PAGE]-(:Branch)
WITH DISTINCT v
RETURN
  v.page AS alternate,
  v.title AS title,
  COLLECT { MATCH (b:Branch)-[:HAS_PAGE]->(v) RETURN b.name ORDER BY b.name } AS branches
ORDER BY alternate, branches
