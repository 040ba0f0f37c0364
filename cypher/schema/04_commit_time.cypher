CREATE INDEX commit_time IF NOT EXISTS FOR (c:Commit) ON (c.time)
