"""The durable intake queue in Redis: a list per partition, a lock per partition, outcomes per event.

Intake appends each event (its JSON) to the list of its actor's partition, ``RPUSH``, in one
``MULTI`` with the deletion of any older outcome of the same event id. A worker that holds a partition's
lock reads the head of the list (``LRANGE 0 N-1``), commits it, and only then removes it and records the
outcomes, in one Lua script that first checks that it still holds the lock. Nothing is removed before it
is committed, and nobody but the lock's holder removes anything: a kill anywhere leaves the uncommitted
events in the list, and committing them again is a no-op (the events core drops an event whose id is
already in the branch's history).

The lock is ``SET key token NX PX ttl``; the token names the holder (``host/pid/random``) so that a lock
left by a dead process of this host can be broken at once instead of after its ttl.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..records import record
from .keys import PARTITIONS, Keys, partition_of

if TYPE_CHECKING:
    from redis import Redis

__all__ = ["PartitionQueue", "Queued", "holder_token"]

# KEYS[1] lock; ARGV[1] token, ARGV[2] ttl ms. 1 if renewed.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS[1] lock; ARGV[1] token. 1 if released.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS[1] lock, KEYS[2] list, KEYS[3..] outcome keys; ARGV[1] token, ARGV[2] how many were read,
# ARGV[3] lock ttl ms, ARGV[4] outcome ttl s, then per outcome key: its JSON and "1" to keep an older one.
# Removes the head that was read and stores the outcomes, but only for the lock's holder.
# Returns what is left in the list, or -1 if the lock was lost (then nothing is changed).
COMPLETE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
redis.call('LTRIM', KEYS[2], tonumber(ARGV[2]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
for i = 3, #KEYS do
  local value = ARGV[5 + (i - 3) * 2]
  if ARGV[6 + (i - 3) * 2] == '1' then
    redis.call('SET', KEYS[i], value, 'EX', ARGV[4], 'NX')
  else
    redis.call('SET', KEYS[i], value, 'EX', ARGV[4])
  end
end
return redis.call('LLEN', KEYS[2])
"""


def holder_token() -> str:
    """A lock token naming this process: ``host/pid/random``."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex}"


def _dead_local_holder(token: str) -> bool:
    """Whether a lock token belongs to a process of this host that no longer runs."""
    host, _, rest = token.partition("/")
    pid_text = rest.partition("/")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


@record
class Queued:
    """Events appended by one intake call: the partitions that got some, and those whose drain
    this call must queue (no drain was queued for them yet)."""

    partitions: tuple[int, ...]
    to_drain: tuple[int, ...]


@record
class Outcome:
    """What to record for an event after its batch was committed."""

    event_id: str
    data: dict[str, Any]
    keep_older: bool = False  # a duplicate does not replace the outcome of the first delivery


class PartitionQueue:
    """One story's intake queue on a Redis client (``decode_responses`` off: values are bytes)."""

    def __init__(
        self,
        client: Redis,
        keys: Keys,
        *,
        partitions: int = PARTITIONS,
        pending_ttl: float = 30.0,
        outcome_ttl: float = 86_400.0,
    ) -> None:
        self.client = client
        self.keys = keys
        self.partitions = partitions
        self.pending_ttl = pending_ttl
        self.outcome_ttl = outcome_ttl
        self._renew = client.register_script(RENEW)
        self._release = client.register_script(RELEASE)
        self._complete = client.register_script(COMPLETE)

    # --- intake -------------------------------------------------------------------------------------

    def push(self, items: Iterable[tuple[str, str, str]]) -> Queued:
        """Append events, given as ``(event id, actor, JSON)``, each to its actor's partition, in order.

        Atomic: all of them or (on an error) none. Returns the partitions whose drain the caller must
        queue: those whose pending flag this call set.
        """
        touched: list[int] = []
        pipe = self.client.pipeline(transaction=True)
        for event_id, actor, data in items:
            partition = partition_of(actor, self.partitions)
            pipe.delete(self.keys.result(event_id))
            pipe.rpush(self.keys.events(partition), data)
            if partition not in touched:
                touched.append(partition)
        for partition in touched:
            pipe.set(self.keys.pending(partition), b"1", nx=True, px=int(self.pending_ttl * 1000))
        replies = pipe.execute()
        flags = replies[len(replies) - len(touched) :]
        return Queued(tuple(touched), tuple(p for p, flag in zip(touched, flags, strict=True) if flag))

    def mark_pending(self, partition: int, *, force: bool = False) -> bool:
        """Set the partition's pending flag; True if the caller should queue a drain."""
        ttl = int(self.pending_ttl * 1000)
        if force:
            self.client.set(self.keys.pending(partition), b"1", px=ttl)
            return True
        return bool(self.client.set(self.keys.pending(partition), b"1", nx=True, px=ttl))

    def clear_pending(self, partition: int) -> None:
        self.client.delete(self.keys.pending(partition))

    # --- draining -----------------------------------------------------------------------------------

    def acquire(self, partition: int, token: str, ttl: float) -> bool:
        """Take the partition's lock; a lock left by a dead process of this host is broken first."""
        key = self.keys.lock(partition)
        if self.client.set(key, token.encode(), nx=True, px=int(ttl * 1000)):
            return True
        held = self.client.get(key)
        if held is not None and _dead_local_holder(_text(held)):
            self._release(keys=[key], args=[held])
            return bool(self.client.set(key, token.encode(), nx=True, px=int(ttl * 1000)))
        return False

    def acquire_branch(self, branch: str, token: str, ttl: float, *, wait: float) -> bool:
        """Take a branch's lock, waiting up to ``wait`` seconds for its holder; False if it did not come."""
        key = self.keys.branch_lock(branch)
        deadline = time.monotonic() + wait
        pause = 0.005
        while True:
            if self.client.set(key, token.encode(), nx=True, px=int(ttl * 1000)):
                return True
            held = self.client.get(key)
            if held is not None and _dead_local_holder(_text(held)):
                self._release(keys=[key], args=[held])
                continue
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def renew_branch(self, branch: str, token: str, ttl: float) -> bool:
        return bool(self._renew(keys=[self.keys.branch_lock(branch)], args=[token, int(ttl * 1000)]))

    def release_branch(self, branch: str, token: str) -> bool:
        return bool(self._release(keys=[self.keys.branch_lock(branch)], args=[token]))

    def renew(self, partition: int, token: str, ttl: float) -> bool:
        return bool(self._renew(keys=[self.keys.lock(partition)], args=[token, int(ttl * 1000)]))

    def release(self, partition: int, token: str) -> bool:
        return bool(self._release(keys=[self.keys.lock(partition)], args=[token]))

    def locked(self, partition: int) -> bool:
        """Whether a live holder has the lock (a lock of a dead process of this host does not count)."""
        held = self.client.get(self.keys.lock(partition))
        return held is not None and not _dead_local_holder(_text(held))

    def read(self, partition: int, count: int) -> list[bytes]:
        """The oldest ``count`` events of the partition (not removed)."""
        return [_bytes(item) for item in self.client.lrange(self.keys.events(partition), 0, count - 1)]

    def complete(
        self, partition: int, token: str, count: int, outcomes: Sequence[Outcome], lock_ttl: float
    ) -> int:
        """Remove the ``count`` events that were read and record their outcomes, if ``token`` still
        holds the lock. Returns how many events are left, or -1 if the lock was lost (nothing done)."""
        keys = [self.keys.lock(partition), self.keys.events(partition)]
        args: list[Any] = [token, count, int(lock_ttl * 1000), int(self.outcome_ttl)]
        for outcome in outcomes:
            keys.append(self.keys.result(outcome.event_id))
            args.append(json.dumps(outcome.data, separators=(",", ":")))
            args.append("1" if outcome.keep_older else "0")
        return int(self._complete(keys=keys, args=args))

    # --- looking ------------------------------------------------------------------------------------

    def length(self, partition: int) -> int:
        return int(self.client.llen(self.keys.events(partition)))

    def lengths(self) -> list[int]:
        pipe = self.client.pipeline(transaction=False)
        for partition in range(self.partitions):
            pipe.llen(self.keys.events(partition))
        return [int(n) for n in pipe.execute()]

    def outcomes(self, event_ids: Sequence[str]) -> list[dict[str, Any] | None]:
        """The recorded outcome of each event (None while it waits)."""
        if not event_ids:
            return []
        raw = self.client.mget([self.keys.result(e) for e in event_ids])
        return [json.loads(value) if value is not None else None for value in raw]
