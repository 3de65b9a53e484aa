"""The Flask routes of GitLab's GraphQL for Duo: `/api/graphql` and the CSV export."""

from __future__ import annotations

import json
from typing import Any, Callable

from flask import Blueprint, Response, request

from engine.api import Engine
from engine.web.auth import Auth, Caller

from .execute import execute_graphql
from .export import ai_metrics_csv
from .resolvers import DuoSettings


def create_blueprint(engine_provider: Engine | Callable[[], Engine], auth: Auth | None = None, *,
                     settings: DuoSettings | None = None):
    """A Flask blueprint serving `POST|GET /api/graphql` and `GET /api/duo/ai-metrics.csv`.

    engine_provider: the Engine, or a function returning it (per request).
    auth: who is calling (`Auth.duo_caller`: a token from `duo_tokens` names the user; with no
        auth configured, a loopback caller is the administrator). Default: no auth configured.
    """
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
