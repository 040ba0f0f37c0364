// The order commits were stored in: readers fetch only the commits after the last one they saw.
CREATE INDEX commit_seq IF NOT EXISTS FOR (c:Commit) ON (c.seq)
