// A page version is a page blob: its id is the blob's git id.
CREATE CONSTRAINT page_version_id IF NOT EXISTS FOR (v:PageVersion) REQUIRE v.id IS UNIQUE
