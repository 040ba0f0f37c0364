// How many git objects the database holds: those in packs, plus the commits (on their Commit nodes) or,
// in a database of the first layout, the Object nodes (which hold the commits too).
CALL () {
  MATCH (p:Pack)
  RETURN coalesce(sum(p.count), 0) AS packed
}
CALL () {
  MATCH (o:Object)
  RETURN count(o) AS nodes
}
CALL () {
  MATCH (c:Commit)
  RETURN count(c) AS commits
}
RETURN packed + CASE WHEN nodes > 0 THEN nodes ELSE commits END AS objects
