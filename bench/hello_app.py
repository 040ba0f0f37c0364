"""The baseline of ``bench.api_load``: a trivial strawberry ``hello`` query on Starlette.

Served by uvicorn exactly as ``gvcs serve`` serves gvcs (one process, default loop, no access log), so
the ratio of the two measures what gvcs adds, not the stack both share.

    python -m uvicorn bench.hello_app:app --port 8001 --no-access-log
"""

from __future__ import annotations

import strawberry
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


app = Starlette(routes=[Route("/graphql", GraphQL(strawberry.Schema(query=Query)), methods=["GET", "POST"])])
