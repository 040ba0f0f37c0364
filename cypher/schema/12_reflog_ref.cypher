CREATE INDEX reflog_ref IF NOT EXISTS FOR (e:RefLogEntry) ON (e.ref, e.seq)
