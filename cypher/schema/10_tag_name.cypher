CREATE INDEX tag_name IF NOT EXISTS FOR (t:Tag) ON (t.name)
