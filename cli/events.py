"""``gvcs event``, ``gvcs gift``, ``gvcs ritual`` and ``gvcs spore``: events, each committed as one commit.

Every command that sends an event acts as the usual actor (``--actor``, ``$GVCS_ACTOR``, the config) and
hands the event to :func:`_submit`. The work tree: when it is checked out on the event's branch, a file
the event changes must not have uncommitted edits (the command is refused before anything is written),
and after the commit the work tree is brought up to the new head, as ``gvcs switch <branch>`` would.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from .common import Context, commit_json, emit_json, out, parse_time

if TYPE_CHECKING:
    from narrative_vcs.events import Event, Ingested
    from narrative_vcs.history import CommitInfo
    from narrative_vcs.types import ObjectId
    from narrative_vcs.worktree import WorkTree

__all__ = [
    "add_commands",
    "cmd_event_emit",
    "cmd_event_list",
    "cmd_gift",
    "cmd_gift_balance",
    "cmd_ritual",
    "cmd_spore",
    "cmd_spore_list",
]


# --- sending events ---------------------------------------------------------------------------------


def _submit(ctx: Context, event: Event) -> Ingested:
    """The one place the CLI hands an event over: committed here and now (the inline intake)."""
    from narrative_vcs.events import ingest

    return ingest(ctx.repo, event)


def _send(args: argparse.Namespace, topic: str, payload: dict[str, Any], time: int | None = None) -> int:
    """Send one event made of ``payload`` as the acting actor; print what became of it."""
    from narrative_vcs.events import Event, preview, validate

    ctx = Context(args)
    validate(topic, payload)  # first: a published topic's refusal says why, before its schema
    event = Event.new(topic, ctx.actor(), payload, branch=args.branch, id=args.id, time=time)
    branch, paths = preview(ctx.repo, event)  # refuses a bad event before the work tree is looked at
    from .intake import queue_event, redis_url

    url = redis_url(args)
    worktree = _checked_out(ctx, branch, paths)
    before = ctx.repo.branch_head(branch)
    if url is not None:  # $GVCS_REDIS_URL (or --redis): the workers commit it
        code = queue_event(args, ctx, event, url)
        if args.wait and worktree is not None and worktree.commit_id == before:
            # The worker committed it (queue_event raises otherwise): follow the branch, as inline.
            _follow(worktree, branch)
        return code
    result = _submit(ctx, event)
    _update(worktree, branch, before, result)
    if args.json:
        emit_json(result.to_json())
    elif result.duplicate:
        out(f"duplicate of {str(result.commit)[:10]}: event {event.id} is already on {branch}")
    elif result.commit is not None:
        out(f"[{branch} {result.commit[:10]}] {ctx.repo.commits.get(result.commit).subject}")
        out(f" {topic} {event.id} by {event.actor}")
    if result.error is not None:
        raise result.error
    return 0


def _checked_out(ctx: Context, branch: str, paths: list[str]) -> WorkTree | None:
    """The work tree if it is checked out on ``branch``; refused if it has edits of ``paths``."""
    from narrative_vcs.errors import Refused

    worktree = ctx.worktree
    if worktree.branch != branch:
        return None
    if worktree.merge_state() is not None:
        raise Refused(f"a merge is in progress on {branch}: finish it (gvcs merge --continue) or --abort it")
    clashes = [c.path for c in worktree.status() if c.path in paths]
    if clashes:
        raise Refused(
            f"{', '.join(clashes)} has uncommitted changes in the work tree, and the event changes it on "
            f"{branch}: commit or restore it first"
        )
    return worktree


def _update(worktree: WorkTree | None, branch: str, before: ObjectId | None, result: Ingested) -> None:
    """Bring a work tree that was at the branch's head up to the event's commit."""
    if worktree is None or result.commit is None or result.duplicate:
        return
    if worktree.commit_id != before:
        sys.stderr.write(
            f"gvcs: note: the work tree is behind {branch}; update it with: gvcs switch {branch}\n"
        )
        return
    _follow(worktree, branch)


def _follow(worktree: WorkTree, branch: str) -> None:
    from narrative_vcs.errors import Refused

    try:
        worktree.switch(branch)
    except Refused as exc:  # a file edited since the check: the commit stands, the edit is kept
        sys.stderr.write(f"gvcs: note: the work tree was not updated ({exc})\n")


def _json_argument(value: str, what: str) -> Any:
    """A JSON value given inline, as ``@FILE``, or as ``@-`` (standard input): at most four times the
    largest payload (room for whitespace and escapes), nested at most 64 levels deep."""
    from narrative_vcs.errors import BadInput
    from narrative_vcs.events.schemas import MAX_PAYLOAD
    from narrative_vcs.limits import load_json

    limit = 4 * MAX_PAYLOAD
    text: str | bytes = value
    if value.startswith("@"):
        try:
            if value == "@-":
                stdin = getattr(sys.stdin, "buffer", sys.stdin)  # a text stream stands in, in tests
                text = stdin.read(limit + 1)
            else:
                with open(value[1:], "rb") as fh:
                    text = fh.read(limit + 1)  # no more than enough to tell it is too large
        except OSError as exc:
            raise BadInput(f"{what}: cannot read {value[1:]}: {exc.strerror}") from None
    return load_json(text, what, max_bytes=limit)


def cmd_event_emit(args: argparse.Namespace) -> int:
    """``gvcs event emit TOPIC --payload JSON|@FILE``: send any event."""
    from narrative_vcs.errors import BadInput

    payload = _json_argument(args.payload, "--payload")
    if not isinstance(payload, dict):
        raise BadInput("--payload must be a JSON object")
    time = parse_time(args.time) if args.time else None
    return _send(args, args.topic, payload, time)


def cmd_gift(args: argparse.Namespace) -> int:
    """``gvcs gift mint ACTOR N``, ``gift send ACTOR N``, ``gift burn N``."""
    payload: dict[str, Any] = {"op": args.op, "amount": args.amount}
    if args.op != "burn":
        payload["to"] = args.to
    if args.memo is not None:
        payload["memo"] = args.memo
    return _send(args, "gift.txn.v1", payload)


def cmd_ritual(args: argparse.Namespace) -> int:
    """``gvcs ritual GLYPH --rotation DEG [--page P]``."""
    payload: dict[str, Any] = {"glyph": args.glyph, "rotation": args.rotation}
    if args.page is not None:
        payload["page"] = args.page
    return _send(args, "ritual.performed.v1", payload)


def cmd_spore(args: argparse.Namespace) -> int:
    """``gvcs spore add|update|remove ID`` and ``gvcs spore decay ID --state S``."""
    from narrative_vcs.errors import BadInput

    payload: dict[str, Any] = {"spore": args.spore}
    if args.op == "decay":
        payload["state"] = args.state
        if args.reason is not None:
            payload["reason"] = args.reason
        time = parse_time(args.time) if args.time else None
        return _send(args, "mycelium.decay.v1", payload, time)
    payload["op"] = args.op
    if getattr(args, "type", None) is not None:
        payload["type"] = args.type
    if getattr(args, "spec", None) is not None:
        spec = _json_argument(args.spec, "--spec")
        if not isinstance(spec, dict):
            raise BadInput("--spec must be a JSON object")
        payload["spec"] = spec
    return _send(args, "infra.spore.v1", payload)


# --- reading ----------------------------------------------------------------------------------------


def cmd_event_list(args: argparse.Namespace) -> int:
    """``gvcs event list``: the event commits of every branch (or ``--branch``), newest first."""
    from narrative_vcs.errors import BadInput
    from narrative_vcs.events import TOPICS
    from narrative_vcs.events.listing import check_topic, event_branches

    if args.topic is not None:
        check_topic(args.topic)
    if args.max_count is not None and args.max_count < 0:
        raise BadInput("-n must not be negative")
    ctx = Context(args)
    repo = ctx.repo
    if args.topic == "narrative.change.v1":
        return _list_narrative(args, ctx)
    revs = event_branches(repo, args.branch)
    kinds = {args.topic} if args.topic else set(TOPICS)
    found: list[CommitInfo] = []
    for info in repo.iter_log(revs) if revs else ():
        if args.max_count is not None and len(found) >= args.max_count:
            break
        if info.kind in kinds:
            found.append(info)
    if args.json:
        refs = ctx.decorations()
        emit_json([commit_json(info, refs) for info in found])
        return 0
    for info in found:
        out(f"{info.short_id} {info.kind:<19} {info.event_id or '-'}  {info.actor}  {info.subject}")
    return 0


def _list_narrative(args: argparse.Namespace, ctx: Context) -> int:
    """The ``narrative.change.v1`` changes: commits that landed on protected branches, newest first."""
    import heapq
    import itertools

    from narrative_vcs.governance.narrative import history_changes

    repo = ctx.repo
    branches = repo.branches()
    names = [args.branch] if args.branch else sorted(branches)
    if args.branch and args.branch not in branches:
        from narrative_vcs.errors import NotFound

        raise NotFound(f"branch {args.branch!r} not found")
    streams = [history_changes(repo, name, branches[name]) for name in names]
    merged = heapq.merge(*streams, key=lambda c: -c.time)
    found = list(itertools.islice(merged, args.max_count)) if args.max_count is not None else list(merged)
    if args.json:
        emit_json([change.to_json() for change in found])
        return 0
    for change in found:
        what = f"proposal {change.proposal}" if change.proposal is not None else change.kind
        where = f"{change.branch:<12} {what:<19}"
        out(f"{change.commit[:10]} narrative.change.v1 {where} {change.actor}  {change.summary}")
    return 0


def cmd_gift_balance(args: argparse.Namespace) -> int:
    """``gvcs gift balance [ACTOR]``: the balances of ledger.yaml."""
    from narrative_vcs.events import balances, default_branch
    from narrative_vcs.objects import validate_id

    ctx = Context(args)
    branch = args.branch or default_branch(ctx.repo)
    commit = ctx.repo.resolve(branch)
    found = balances(ctx.repo, commit)
    if args.holder is not None:
        actor = validate_id("actor", args.holder)
        if args.json:
            emit_json({"branch": branch, "commit": commit, "actor": actor, "balance": found.get(actor, 0)})
        else:
            out(f"{actor} {found.get(actor, 0)}")
        return 0
    if args.json:
        emit_json({"branch": branch, "commit": commit, "balances": found})
        return 0
    if not found:
        out(f"No gift tokens on {branch} yet. Mint some: gvcs gift mint ACTOR AMOUNT")
    width = max((len(a) for a in found), default=0)
    for actor, amount in sorted(found.items()):
        out(f"{actor:<{width}}  {amount}")
    return 0


def cmd_spore_list(args: argparse.Namespace) -> int:
    """``gvcs spore list``: the spores on the mycelium branch and their health."""
    from narrative_vcs.events import MYCELIUM, spores

    ctx = Context(args)
    branch = args.branch or MYCELIUM
    commit = ctx.repo.branch_head(branch)
    found = {} if commit is None else spores(ctx.repo, commit)
    if args.json:
        emit_json({"branch": branch, "commit": commit, "spores": found})
        return 0
    if not found:
        out(f"No spores on {branch} yet. Add one: gvcs spore add ID --type TYPE")
    width = max((len(s) for s in found), default=0)
    for spore, record in found.items():
        incident = record.get("incident")
        note = f"  incident since {incident.get('since')}" if isinstance(incident, dict) else ""
        out(f"{spore:<{width}}  {record.get('status')}  {record.get('type') or '-'}{note}")
    return 0


# --- the parser ---------------------------------------------------------------------------------------


def _sending(p: argparse.ArgumentParser, json_flag: Any) -> None:
    p.add_argument(
        "--id",
        default=None,
        metavar="ID",
        help="the event id (default: a new one); resending it commits nothing",
    )
    p.add_argument(
        "--branch", default=None, metavar="BRANCH", help="commit on BRANCH (default: the topic's branch)"
    )
    p.add_argument(
        "--wait",
        nargs="?",
        type=float,
        const=30.0,
        default=None,
        metavar="S",
        help="with Redis: wait up to S seconds (default 30) for a worker to commit it",
    )
    json_flag(p)


# narrative_vcs.events.TOPICS, spelled out here for the parser (tests/cli/test_events.py checks they agree).
TOPIC_NAMES = (
    "agent.emit.v1",
    "gift.txn.v1",
    "ritual.performed.v1",
    "infra.spore.v1",
    "mycelium.decay.v1",
    "narrative.change.v1",
)


def add_commands(sub: Any, command: Any, json_flag: Any) -> None:
    """Register ``event``, ``gift``, ``ritual`` and ``spore`` on the ``gvcs`` parser (without importing
    the events package: every ``gvcs`` command builds this parser, and ``gvcs log`` must start fast)."""
    p = command(sub, "event", "events:cmd_event_list", "send events (each becomes one commit) or list them")
    event = p.add_subparsers(dest="event_command", metavar="<emit|list>", parser_class=type(p))
    a = event.add_parser("emit", help="send an event: TOPIC and a JSON payload")
    a.set_defaults(target="events:cmd_event_emit")
    a.add_argument("topic", metavar="TOPIC", help=f"one of {', '.join(TOPIC_NAMES)}")
    a.add_argument("--payload", required=True, metavar="JSON", help="the payload: JSON, @FILE or @- (stdin)")
    a.add_argument("--time", default=None, metavar="TIME", help="when it happened (ISO 8601 or unix seconds)")
    _sending(a, json_flag)
    for parser in (event.add_parser("list", help="list event commits, newest first"), p):
        parser.set_defaults(target="events:cmd_event_list")
        parser.add_argument("--topic", default=None, metavar="TOPIC", help="only events of this topic")
        parser.add_argument(
            "--branch", default=None, metavar="BRANCH", help="only this branch (default: all)"
        )
        parser.add_argument("-n", "--max-count", type=int, default=None, metavar="N", help="at most N events")
        json_flag(parser)

    p = command(sub, "gift", "events:cmd_gift_balance", "mint, send or burn gift tokens; show balances")
    gift = p.add_subparsers(dest="gift_command", metavar="<mint|send|burn|balance>", parser_class=type(p))
    for op, name, help_text in (
        ("mint", "mint", "mint AMOUNT new tokens for ACTOR"),
        ("transfer", "send", "send AMOUNT of your tokens to ACTOR"),
        ("burn", "burn", "burn AMOUNT of your tokens"),
    ):
        a = gift.add_parser(name, help=help_text)
        a.set_defaults(target="events:cmd_gift", op=op)
        if op != "burn":
            a.add_argument("to", metavar="ACTOR", help="who receives the tokens")
        a.add_argument("amount", type=int, metavar="AMOUNT", help="how many tokens (a whole number)")
        a.add_argument("--memo", default=None, help="a note kept in the event")
        _sending(a, json_flag)
    for parser in (gift.add_parser("balance", help="the balances of ledger.yaml"), p):
        parser.set_defaults(target="events:cmd_gift_balance", holder=None)
        if parser is not p:  # a positional beside the subcommands would take the subcommand's name
            parser.add_argument(
                "holder",
                nargs="?",
                default=None,
                metavar="ACTOR",
                help="whose balance (default: every holder)",
            )
        parser.add_argument("--branch", default=None, metavar="BRANCH", help="default: main")
        json_flag(parser)

    p = command(
        sub, "ritual", "events:cmd_ritual", "turn a glyph: fire its opcode from story.yaml's glyph table"
    )
    p.add_argument("glyph", metavar="GLYPH", help="the glyph's id in story.yaml's glyph table")
    p.add_argument("--rotation", type=int, required=True, metavar="DEG", help="0, 90, 180 or 270")
    p.add_argument("--page", default=None, metavar="PAGE", help="the page the ritual is performed on")
    _sending(p, json_flag)

    p = command(sub, "spore", "events:cmd_spore_list", "report spores (infrastructure) and their health")
    spore = p.add_subparsers(
        dest="spore_command", metavar="<add|update|remove|decay|list>", parser_class=type(p)
    )
    for name, op in (("add", "added"), ("update", "updated"), ("remove", "removed")):
        a = spore.add_parser(name, help=f"report a spore {op}")
        a.set_defaults(target="events:cmd_spore", op=op)
        a.add_argument("spore", metavar="ID", help="the spore's id")
        if op != "removed":
            a.add_argument("--type", default=None, help="what kind of spore it is")
            a.add_argument(
                "--spec", default=None, metavar="JSON", help="its setup: a JSON object, @FILE or @-"
            )
        _sending(a, json_flag)
    a = spore.add_parser("decay", help="report a spore unhealthy, died or restarted")
    a.set_defaults(target="events:cmd_spore", op="decay")
    a.add_argument("spore", metavar="ID", help="the spore's id")
    a.add_argument(
        "--state", required=True, choices=("unhealthy", "died", "restarted"), help="what happened to it"
    )
    a.add_argument("--reason", default=None, help="why, in a few words")
    a.add_argument("--time", default=None, metavar="TIME", help="when it happened (ISO 8601 or unix seconds)")
    _sending(a, json_flag)
    for parser in (spore.add_parser("list", help="the spores and their health"), p):
        parser.set_defaults(target="events:cmd_spore_list")
        parser.add_argument("--branch", default=None, metavar="BRANCH", help="default: mycelium")
        json_flag(parser)
