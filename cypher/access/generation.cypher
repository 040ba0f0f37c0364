// The number every change of tokens or access settings moves (servers remember token checks until it does).
OPTIONAL MATCH (m:Meta {name: 'access'})
RETURN coalesce(m.generation, 0) AS generation
