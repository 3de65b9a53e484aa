"""Running a GraphQL request of GitLab's Duo analytics against an `Engine`."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from graphql import GraphQLError, graphql_sync

from engine.api import Engine, parse_instant
from engine.web.auth import Caller

from .data import DuoData
from .resolvers import Context, DuoSettings, Root, resolve_field
from .schema import schema

log = logging.getLogger("duckcube.duo")


def _now(engine: Engine, settings: DuoSettings) -> dt.datetime:
    now = parse_instant(settings.now) if settings.now is not None else engine.now()
    return now.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _format_error(error: GraphQLError) -> dict:
    original = error.original_error
    if original is not None and not isinstance(original, GraphQLError):
        log.error("Duo GraphQL resolver failed", exc_info=original)
        error = GraphQLError("Internal server error", error.nodes, error.source, error.positions,
                             error.path)
    return error.formatted  # type: ignore[return-value]


def _execute_one(engine: Engine, body: Any, caller: Caller, settings: DuoSettings
                 ) -> tuple[int, dict]:
    if not isinstance(body, dict):
        return 400, {"errors": [{"message": "Expected a JSON object with a `query`"}]}
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        return 200, {"errors": [{"message": "No query string was present"}]}
    variables = body.get("variables")
    if isinstance(variables, str):  # GitLab accepts variables as a JSON string too
        try:
            variables = json.loads(variables) if variables.strip() else None
        except json.JSONDecodeError:
            return 400, {"errors": [{"message": "Variables are invalid JSON"}]}
    if variables is not None and not isinstance(variables, dict):
        return 400, {"errors": [{"message": "Variables are invalid JSON"}]}
    ctx = Context(DuoData(engine), caller, _now(engine, settings), settings)
    result = graphql_sync(schema(), query, root_value=Root(ctx), context_value=ctx,
                          variable_values=variables, operation_name=body.get("operationName"),
                          field_resolver=resolve_field)
    out: dict = {}
    if result.data is not None or not result.errors:
        out["data"] = result.data
    if result.errors:
        out["errors"] = [_format_error(e) for e in result.errors]
    return 200, out


def execute_graphql(engine: Engine, body: Any, caller: Caller | None = None, *,
                    settings: DuoSettings | None = None) -> tuple[int, dict | list]:
    """Run a GraphQL request body (`{query, variables?, operationName?}`, or a list of them as
    GitLab's batched requests) against `engine`. Returns (HTTP status, JSON body); GraphQL
    errors (GitLab's wording) come back with status 200 in `errors`, as GitLab answers them.
    `caller` defaults to the local administrator."""
    caller = caller or Caller.local_admin()
    settings = settings or DuoSettings()
    if isinstance(body, list):
        return 200, [_execute_one(engine, item, caller, settings)[1] for item in body]
    return _execute_one(engine, body, caller, settings)
