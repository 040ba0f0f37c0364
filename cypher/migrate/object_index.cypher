// The index of the first layout's Object nodes by id (every database of that layout has it; the
// migration finds objects by id and sweeps them in id order). Dropped when the migration ends.
CREATE CONSTRAINT object_id IF NOT EXISTS FOR (o:Object) REQUIRE o.id IS UNIQUE
