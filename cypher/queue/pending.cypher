// Every change set queued for a ref, oldest first (a submission's tickets sort in its order).
MATCH (q:QueuedCommit {ref: $ref})
RETURN q.ticket AS ticket, q.payload AS payload
ORDER BY q.at, q.ticket
