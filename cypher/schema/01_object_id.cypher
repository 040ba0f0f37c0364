// Raw git objects (blobs, trees, commits, tags) under their git ids.
CREATE CONSTRAINT object_id IF NOT EXISTS FOR (o:Object) REQUIRE o.id IS UNIQUE
