// The governance proposals an actor voted on, newest proposal first.
// Parameters: $actor, an actor id (e.g. 'london-fox').
// Returns one row per proposal: its number, status, source and target branches (source null for a
// hearing), message, the actor's vote (choice and weight) and the tally so far (yes and no weights).
MATCH (:Actor {id: $actor})-[vote:VOTED]->(p:Proposal)
RETURN
  p.number AS number,
  p.status AS status,
  p.source AS source,
  p.target AS target,
  p.message AS message,
  vote.choice AS choice,
  vote.weight AS weight,
  p.yes AS yes,
  p.no AS no
ORDER BY number DESC
