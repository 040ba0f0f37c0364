"""``gvcs token create|list|revoke`` and ``gvcs access``: who may use the story through the API."""

from __future__ import annotations

import argparse
import sys

from .common import Context, emit_json, format_time, out

__all__ = ["cmd_access", "cmd_token_create", "cmd_token_list", "cmd_token_revoke"]


def cmd_token_create(args: argparse.Namespace) -> int:
    from narrative_vcs.access import create_token
    from narrative_vcs.errors import NotFound

    repo = Context(args).repo
    try:
        repo.read_actor(args.actor_id)
        known = True
    except NotFound:
        known = False
    record, token = create_token(repo.access, args.actor_id, args.label or "")
    if not known:
        sys.stderr.write(f"gvcs: note: the story has no actor {record.actor!r} yet at HEAD\n")
    if args.json:
        emit_json({"id": record.id, "actor": record.actor, "label": record.label, "token": token})
        return 0
    out(token)
    sys.stderr.write(
        f"gvcs: token {record.id} acts as {record.actor}; it is shown only this once (stored hashed)\n"
    )
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    tokens = Context(args).repo.access.list_tokens()
    if args.json:
        emit_json([{"id": t.id, "actor": t.actor, "label": t.label, "created": t.created} for t in tokens])
        return 0
    for t in tokens:
        label = f"  {t.label}" if t.label else ""
        out(f"{t.id}  {t.actor:<20} {format_time(t.created)}{label}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from narrative_vcs.access import revoke_token

    revoke_token(Context(args).repo.access, args.token_id)
    if args.json:
        emit_json({"id": args.token_id, "revoked": True})
        return 0
    sys.stderr.write(f"gvcs: token {args.token_id} revoked\n")
    return 0


def cmd_access(args: argparse.Namespace) -> int:
    from narrative_vcs.access import READS, check_setting

    access = Context(args).repo.access
    if args.policy is not None:
        access.set_setting(READS, check_setting(READS, args.policy))
    policy = access.get_setting(READS) or "open"
    if args.json:
        emit_json({"reads": policy})
    else:
        out(f"reads: {policy} ({'a token is needed to read' if policy == 'token' else 'anyone may read'})")
    return 0
