MATCH (t:ApiToken {id: $id})
DELETE t
RETURN count(*) AS removed
