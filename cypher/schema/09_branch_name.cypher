CREATE INDEX branch_name IF NOT EXISTS FOR (b:Branch) ON (b.name)
