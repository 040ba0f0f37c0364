// Packs of objects (blobs, trees, tags) by number, in the order they were stored.
CREATE CONSTRAINT pack_seq IF NOT EXISTS FOR (p:Pack) REQUIRE p.seq IS UNIQUE
