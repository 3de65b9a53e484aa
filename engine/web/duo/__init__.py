"""GitLab Duo AI analytics served by the engine: GitLab's GraphQL API (`aiUsageData`,
`aiUserMetrics`, `aiMetrics`) answered from Cube queries over cubes/duo_*.yml.

    from engine import Engine
    from engine.web.duo import execute_graphql, Caller
    status, body = execute_graphql(engine, {"query": "{ group(fullPath: \\"gitlab-org\\") { ... } }"})

    # Flask: POST/GET /api/graphql (and GET /api/duo/ai-metrics.csv)
    from engine.web.duo import create_blueprint
    app.register_blueprint(create_blueprint(lambda: engine))

Callers: an unauthenticated request to a server without a tokens mapping, from loopback, is the
local administrator (offline development); with `tokens` ({token: username}) a request is the
token's user (header `PRIVATE-TOKEN` or `Authorization: Bearer`), an unknown token gets 401, and
no token means anonymous.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any, Callable, Mapping

from graphql import GraphQLError, graphql_sync

from engine.api import Engine, parse_instant
from .data import DuoData
from .resolvers import Caller, Context, DuoSettings, Root, resolve_field
from .schema import schema, sdl

__all__ = ["Caller", "DuoSettings", "execute_graphql", "create_blueprint", "caller_for", "sdl",
           "schema", "load_tokens"]

log = logging.getLogger("duckcube.duo")
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


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


def load_tokens(tokens: Mapping[str, str] | str | Path | None) -> dict[str, str] | None:
    """`{token: username}` from a mapping or a JSON file (None: no auth configured)."""
    if tokens is None:
        return None
    if isinstance(tokens, (str, Path)):
        tokens = json.loads(Path(tokens).read_text())
    out = {}
    for token, user in dict(tokens).items():  # type: ignore[arg-type]
        out[str(token)] = user["username"] if isinstance(user, dict) else str(user)
    return out


def caller_for(headers: Mapping[str, str], remote_addr: str | None,
               tokens: Mapping[str, str] | None, auth_configured: bool | None = None
               ) -> Caller | None:
    """The caller of a request, or None for an invalid token (401). Without any auth configured
    (default: no `tokens`), a request from loopback without a token is the local administrator."""
    if auth_configured is None:
        auth_configured = tokens is not None
    token = headers.get("PRIVATE-TOKEN") or headers.get("Private-Token")
    auth = headers.get("Authorization") or ""
    if not token and auth.lower().startswith("bearer "):
        token = auth.split(" ", 1)[1].strip()
    if token:
        if tokens is None or token not in tokens:
            return None
        return Caller(tokens[token])
    if not auth_configured and (remote_addr or "") in LOOPBACK:
        return Caller.local_admin()
    return Caller.anonymous()


def create_blueprint(engine_provider: Engine | Callable[[], Engine], *,
                     tokens: Mapping[str, str] | str | Path | None = None,
                     settings: DuoSettings | None = None, auth_configured: bool | None = None):
    """A Flask blueprint serving `POST|GET /api/graphql` and `GET /api/duo/ai-metrics.csv`.

    engine_provider: the Engine, or a function returning it (per request).
    tokens: {token: username} or a JSON file of it; requests carry `PRIVATE-TOKEN: <token>` or
        `Authorization: Bearer <token>`.
    auth_configured: whether the server has any auth configured (default: tokens given); when
        it has, a request without a token is anonymous even from loopback.
    """
    from flask import Blueprint, Response, request

    from .export import ai_metrics_csv

    token_map = load_tokens(tokens)
    settings = settings or DuoSettings()
    bp = Blueprint("duo_graphql", __name__)

    def engine() -> Engine:
        return engine_provider if isinstance(engine_provider, Engine) else engine_provider()

    def _json(body: Any, status: int) -> Response:
        return Response(json.dumps(body, ensure_ascii=False), status=status,
                        mimetype="application/json")

    def caller() -> Caller | Response:
        found = caller_for(request.headers, request.remote_addr, token_map, auth_configured)
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
            "Content-Disposition": f'attachment; filename="ai-metrics.csv"'})

    return bp
