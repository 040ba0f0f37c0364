// Move the access generation, in the transaction of a change of tokens or settings.
MERGE (m:Meta {name: 'access'})
SET m.generation = coalesce(m.generation, 0) + 1
