// Takes change sets off the queue unwritten (their ref was deleted before their turn).
MATCH (q:QueuedCommit)
WHERE q.ticket IN $tickets
DELETE q
