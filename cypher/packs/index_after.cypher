// The index of every pack stored after a reader's watermark (Pack.seq), oldest first: its sorted
// 20-byte ids and their offsets (a big-endian u32 each), not its data.
MATCH (p:Pack)
WHERE p.seq > $after
RETURN p.seq AS seq, p.ids AS ids, p.offsets AS offsets
ORDER BY seq
