// The pages that differ between the heads of two branches: what `gvcs diff A B` lists, page by page.
// Parameters: $a and $b, branch names (e.g. 'main' and 'alt-ending').
// Returns one row per page whose version differs, by page id: the id, the change from $a to $b ('add':
// only $b holds the page, 'delete': only $a does, 'modify': both, in different versions) and its title
// on each side (null on the side that lacks it).
MATCH (a:Branch {name: $a}), (b:Branch {name: $b})
CALL (a, b) {
  MATCH (a)-[:HAS_PAGE]->(v:PageVersion)
  WHERE NOT (b)-[:HAS_PAGE]->(v)
  RETURN v.page AS page
  UNION
  MATCH (b)-[:HAS_PAGE]->(v:PageVersion)
  WHERE NOT (a)-[:HAS_PAGE]->(v)
  RETURN v.page AS page
}
OPTIONAL MATCH (a)-[:HAS_PAGE]->(before:PageVersion {page: page})
OPTIONAL MATCH (b)-[:HAS_PAGE]->(after:PageVersion {page: page})
RETURN
  page,
  CASE WHEN before IS NULL THEN 'add' WHEN after IS NULL THEN 'delete' ELSE 'modify' END AS change,
  before.title AS title_a,
  after.title AS title_b
ORDER BY page
