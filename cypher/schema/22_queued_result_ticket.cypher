// Results of queued change sets, found by their tickets.
CREATE INDEX queued_result_ticket IF NOT EXISTS FOR (o:QueuedResult) ON (o.ticket)
