// A queued group's turn: takes the write lock of the branch's QueueTurn (held until the transaction
// ends; the next turn waits here) and returns the ref's head. The turn then writes its commits as any
// writer does (the commit counter's lock, then the ref's, by compare-and-swap): a turn holds no lock
// another writer takes first, so turns and ordinary writes never wait on each other in a circle. An
// ordinary writer that moves the ref during a turn makes the turn's compare-and-swap fail, and the
// turn is taken again.
MATCH (t:QueueTurn {ref: $ref})
SET t.turns = t.turns + 1
WITH t
MATCH (r:Ref {ref: $ref})
RETURN r.target AS target
