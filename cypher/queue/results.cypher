// The results of queued change sets that another process wrote, taken off the queue as they are read.
MATCH (o:QueuedResult)
WHERE o.ticket IN $tickets
WITH o, o.ticket AS ticket, o.result AS result
DELETE o
RETURN ticket, result
