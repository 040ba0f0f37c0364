// Objects that are not in packs: commits (their raw object on the Commit node) and objects of the old
// layout (Object nodes). Ids found in neither are left out.
UNWIND $ids AS id
OPTIONAL MATCH (c:Commit {id: id})
OPTIONAL MATCH (o:Object {id: id})
WITH id, c.raw AS raw, o
WHERE raw IS NOT NULL OR o IS NOT NULL
RETURN id, raw, o.type AS type, CASE WHEN raw IS NULL THEN o.data END AS data
