"""GitLab Duo AI analytics served by the engine: GitLab's GraphQL API (`aiUsageData`,
`aiUserMetrics`, `aiMetrics`) answered from Cube queries over cubes/duo_*.yml.

    from engine import Engine
    from engine.web.duo import execute_graphql, Caller
    status, body = execute_graphql(engine, {"query": "{ group(fullPath: \\"gitlab-org\\") { ... } }"})

    # Flask: POST/GET /api/graphql (and GET /api/duo/ai-metrics.csv)
    from engine.web.duo import create_blueprint
    app.register_blueprint(create_blueprint(lambda: engine, Auth(duo_tokens={"tok": "alice"})))

Callers (`engine.web.auth.Auth.duo_caller`): an unauthenticated request to a server without any
auth configured, from loopback, is the local administrator (offline development); with
`duo_tokens` ({token: username}) a request is the token's user (header `PRIVATE-TOKEN` or
`Authorization: Bearer`), an unknown token gets 401, and no token means anonymous.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any, Callable

from graphql import GraphQLError, graphql_sync

from engine.api import Engine, parse_instant
from engine.web.auth import Auth, Caller
from .data import DuoData
from .resolvers import Context, DuoSettings, Root, resolve_field
from .schema import schema, sdl

__all__ = ["Caller", "DuoSettings", "execute_graphql", "create_blueprint", "sdl", "schema"]

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


def create_blueprint(engine_provider: Engine | Callable[[], Engine], auth: Auth | None = None, *,
                     settings: DuoSettings | None = None):
    """A Flask blueprint serving `POST|GET /api/graphql` and `GET /api/duo/ai-metrics.csv`.

    engine_provider: the Engine, or a function returning it (per request).
    auth: who is calling (`Auth.duo_caller`: a token from `duo_tokens` names the user; with no
        auth configured, a loopback caller is the administrator). Default: no auth configured.
    """
    from flask import Blueprint, Response, request

    from .export import ai_metrics_csv

    auth = auth or Auth()
    settings = settings or DuoSettings()
    bp = Blueprint("duo_graphql", __name__)

    def engine() -> Engine:
        return engine_provider if isinstance(engine_provider, Engine) else engine_provider()

    def _json(body: Any, status: int) -> Response:
        return Response(json.dumps(body, ensure_ascii=False), status=status,
                        mimetype="application/json")

    def caller() -> Caller | Response:
        found = auth.duo_caller(request.headers, request.remote_addr)
        return _json({"errors": [{"message": "Invalid token"}]}, 401) if found is None else found

    @bp.route("/api/graphql", methods=["POST", "GET"])
    def graphql_endpoint() -> Response:
        who = caller()
        if isinstance(who, Response):
            return who
        if request.method == "GET":
            body: Any = {"query": request.args.get("query"),
                         "variables": request.args.get("variables"),
                         "operationName": request.args.get("operationName")}
        else:
            raw = request.get_data(as_text=True)
            try:
                body = json.loads(raw) if raw.strip() else {}
            except json.JSONDecodeError as exc:
                return _json({"errors": [{"message": f"Invalid JSON body: {exc.msg}"}]}, 400)
        status, payload = execute_graphql(engine(), body, who, settings=settings)
        return _json(payload, status)

    @bp.get("/api/duo/ai-metrics.csv")
    def ai_metrics_export() -> Response:
        who = caller()
        if isinstance(who, Response):
            return who
        args = request.args
        missing = [k for k in ("group", "start", "end") if not args.get(k)]
        if missing:
            return _json({"errors": [{"message": f"missing parameter(s): {', '.join(missing)}"}]}, 400)
        try:
            text = ai_metrics_csv(engine(), args["group"], args["start"], args["end"],
                                  caller=who, settings=settings)
        except ValueError as exc:
            return _json({"errors": [{"message": str(exc)}]}, 400)
        return Response(text, 200, mimetype="text/csv", headers={
            "Content-Disposition": 'attachment; filename="ai-metrics.csv"'})

    return bp
