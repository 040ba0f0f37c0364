// One object that the reader's pack index does not hold, in one round trip: a commit (its raw object on
// its Commit node), an object of the old layout (an Object node), or else the index of the packs stored
// after the reader's watermark, in which to look again.
OPTIONAL MATCH (c:Commit {id: $id})
OPTIONAL MATCH (o:Object {id: $id})
RETURN
  c.raw AS raw,
  o.type AS type,
  CASE WHEN c.raw IS NULL THEN o.data END AS data,
  CASE
    WHEN c.raw IS NULL AND o IS NULL
      THEN COLLECT {
        MATCH (p:Pack)
        WHERE p.seq > $after
        RETURN {seq: p.seq, ids: p.ids, offsets: p.offsets}
        ORDER BY p.seq
      }
    ELSE []
  END AS packs
