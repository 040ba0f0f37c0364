// The reading order of a branch: the pages its head holds, each after every page it follows.
// Parameters: $branch, a branch name (e.g. 'main').
// A page's depth is the length of the longest chain of FOLLOWS from it through pages the branch holds
// (0 for a page that follows none of them), so a page is always deeper than the pages it follows.
// Pages are read by depth, then by page id.
// Returns one row per page: its position (1, 2, ...), depth, id and title (as the branch has it).
MATCH (b:Branch {name: $branch})-[:HAS_PAGE]->(v:PageVersion)
CALL (b, v) {
  OPTIONAL MATCH (v)
    ((:PageVersion)-[:FOLLOWS]->(:Page)<-[:VERSION_OF]-(earlier:PageVersion)
      WHERE (b)-[:HAS_PAGE]->(earlier))+
    (:PageVersion)
  RETURN coalesce(max(size(earlier)), 0) AS depth
}
WITH v, depth ORDER BY depth, v.page
WITH collect({depth: depth, page: v.page, title: v.title}) AS pages
UNWIND range(1, size(pages)) AS position
WITH position, pages[position - 1] AS row
RETURN position, row.depth AS depth, row.page AS page, row.title AS title
