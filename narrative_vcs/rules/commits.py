"""What a commit says about itself: who made it, what kind it is, and the trailers that go with that.

- The author is an actor: ``Name <actor-id@actors.gvcs>``; a ``Gvcs-Actor`` trailer, when there is one,
  names the same actor.
- The kind (``Gvcs-Kind``, ``edit`` without one) is one gvcs knows. A merge has exactly two parents and
  kind ``merge``; nothing else has two parents.
- Event commits carry ``Gvcs-Event-Id`` and ``Gvcs-Event`` (one-line JSON); edits, merges and reverts
  carry neither (an event id on an edit would make the real event look like a duplicate).
- ``Gvcs-Proposal`` is for merges only.
"""

from __future__ import annotations

from ..errors import BadInput
from ..gate import CommitCheck, Rule
from ..limits import load_json
from ..objects import ID_PATTERN

__all__ = ["EVENT_KINDS", "KINDS", "PROPOSAL_KINDS", "STORY_KINDS", "CommitFormat", "a"]

STORY_KINDS = ("edit", "merge", "revert")
#: The event topics the intake commits (narrative_vcs.events.INGESTED; a test keeps the two equal).
EVENT_KINDS = frozenset(
    {"agent.emit.v1", "gift.txn.v1", "ritual.performed.v1", "infra.spore.v1", "mycelium.decay.v1"}
)
PROPOSAL_KINDS = frozenset({"proposal.opened", "proposal.vote", "proposal.executed"})
KINDS = frozenset(STORY_KINDS) | EVENT_KINDS | PROPOSAL_KINDS
DOMAIN = "@actors.gvcs"


def a(word: str) -> str:
    """``word`` with its indefinite article: "an edit", "a merge"."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


class CommitFormat(Rule):
    name = "commit-format"

    def check_commit(self, check: CommitCheck) -> None:
        info = check.info
        actor, domain = info.email[: -len(DOMAIN)], info.email[-len(DOMAIN) :]
        if domain != DOMAIN or not ID_PATTERN.fullmatch(actor) or ".." in actor:
            check.fail(
                self.name,
                f"its author <{info.email}> is not an actor: gvcs commits are signed "
                "'Name <actor-id@actors.gvcs>'",
            )
        trailers = info.trailers
        named = trailers.get("Gvcs-Actor")
        if named is not None and named != actor:
            check.fail(self.name, f"Gvcs-Actor says {named!r} but the author is {actor!r}")
        kind = info.kind
        if kind not in KINDS:
            check.fail(self.name, f"unknown kind {kind!r} (Gvcs-Kind): use one of {', '.join(sorted(KINDS))}")
        parents = len(info.parents)
        if parents > 2:
            check.fail(self.name, f"a commit has at most two parents, this one has {parents}")
        if (parents == 2) != (kind == "merge"):
            check.fail(
                self.name,
                "a merge has two parents and kind merge"
                if parents == 2
                else "a merge commit needs two parents",
            )
        if "Gvcs-Proposal" in trailers and kind != "merge":
            check.fail(self.name, "only a merge carries Gvcs-Proposal")
        self._check_event_trailers(check, kind, trailers)

    def _check_event_trailers(self, check: CommitCheck, kind: str, trailers: dict[str, str]) -> None:
        has_id, raw = "Gvcs-Event-Id" in trailers, trailers.get("Gvcs-Event")
        if kind in STORY_KINDS and (has_id or raw is not None):
            check.fail(self.name, f"{a(kind)} commit carries no Gvcs-Event or Gvcs-Event-Id: only events do")
        if kind in EVENT_KINDS and (not has_id or raw is None):
            check.fail(self.name, f"{a(kind)} event commit needs its Gvcs-Event-Id and Gvcs-Event trailers")
        if raw is not None:
            try:
                payload = load_json(raw, "its Gvcs-Event trailer", max_bytes=None)
            except BadInput as exc:  # not JSON, or nested deeper than any payload may be
                check.fail(self.name, str(exc))
            if not isinstance(payload, dict):
                check.fail(self.name, "its Gvcs-Event trailer is not a JSON object")
