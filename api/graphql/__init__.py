"""The GraphQL API (strawberry on Starlette), written against :mod:`narrative_vcs.repository` only."""
