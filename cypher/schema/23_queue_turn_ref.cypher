// The turn of each branch that has queued group commits: the lock their writers take one after another.
CREATE CONSTRAINT queue_turn_ref IF NOT EXISTS FOR (t:QueueTurn) REQUIRE t.ref IS UNIQUE
