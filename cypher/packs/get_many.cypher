// Whole packs by number: their data (a git pack) and their index.
UNWIND $seqs AS s
MATCH (p:Pack {seq: s})
RETURN p.seq AS seq, p.data AS data, p.ids AS ids, p.offsets AS offsets
