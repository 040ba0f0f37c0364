"""The ``emitEvent`` mutation: an event sent as the token's actor, committed as one commit.

It is merged into the Mutation root by :func:`api.graphql.schema.create_schema` and submits through
:func:`api.graphql.post_events._submit`, like ``POST /events/{topic}``.
"""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from .post_events import _submit, make_event
from .schema import Commit, GInfo

__all__ = ["EmitEventInput", "EmitEventPayload", "EventMutation"]


@strawberry.input(
    description="An event: it becomes one commit of kind topic on its branch (see docs/events.md)."
)
class EmitEventInput:
    topic: str = strawberry.field(description="agent.emit.v1, gift.txn.v1, ritual.performed.v1, ...")
    payload: JSON = strawberry.field(description="the topic's payload, a JSON object")
    id: str | None = strawberry.field(
        default=None, description="the event id (default: a new one); resending an id commits nothing new"
    )
    branch: str | None = strawberry.field(default=None, description="default: the topic's own branch")


@strawberry.type
class EmitEventPayload:
    event_id: str
    branch: str
    duplicate: bool = strawberry.field(description="true: the id was already on the branch; commit is that")
    commit: Commit


@strawberry.type
class EventMutation:
    @strawberry.mutation(description="send an event as the token's actor: it is committed as one commit")
    async def emit_event(self, info: GInfo, input: EmitEventInput) -> EmitEventPayload:
        actor = info.context.acting()
        event = make_event(input.topic, actor, input.payload, input.id, input.branch)
        result = await _submit(info.context.repo, event, info.context.intake)
        info.context.changed()
        assert result.commit is not None
        record = await info.context.loaders.commit.load(result.commit)
        return EmitEventPayload(
            event_id=event.id, branch=result.branch, duplicate=result.duplicate, commit=Commit.of(record)
        )
