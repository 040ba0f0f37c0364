MATCH (t:ApiToken {digest: $digest})
RETURN t.id AS id, t.actor AS actor, t.digest AS digest, t.created AS created, t.label AS label
