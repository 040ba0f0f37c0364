// The pages an actor changed, on any branch, most recently changed first.
// Parameters: $actor, an actor id (e.g. 'london-fox').
// Returns one row per page: its id and title, how many of the actor's commits changed it, the kinds of
// change among them (in the order add, modify, delete) and the time of the actor's last change to it.
MATCH (:Actor {id: $actor})<-[:AUTHORED_BY]-(c:Commit)-[change:CHANGED]->(:PageVersion)
        -[:VERSION_OF]->(p:Page)
WITH p, count(DISTINCT c) AS commits, collect(DISTINCT change.op) AS ops, max(c.timestamp) AS last_change
RETURN
  p.id AS page,
  p.title AS title,
  commits,
  [op IN ['add', 'modify', 'delete'] WHERE op IN ops] AS ops,
  last_change
ORDER BY last_change DESC, page
