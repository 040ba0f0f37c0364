// Branches and tags are refs; ref is the full name (refs/heads/main), name the short one.
CREATE CONSTRAINT ref_name IF NOT EXISTS FOR (r:Ref) REQUIRE r.ref IS UNIQUE
