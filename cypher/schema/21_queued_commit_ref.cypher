// Change sets queued for a branch by group commits of several processes (queue/*.cypher).
CREATE INDEX queued_commit_ref IF NOT EXISTS FOR (q:QueuedCommit) ON (q.ref)
