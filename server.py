"""The HTTP face of duckcube: Cube's REST routes and its JWT check, nothing else.

All query work happens in `engine.Engine`; this module only moves requests in and bodies out.

    from engine import Engine
    from server import create_app
    app = create_app(Engine(models="cubes", database="fixtures/data"), api_secret=None)
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable

import jwt
from flask import Flask, Response, request

from engine import CubeError, Engine

log = logging.getLogger("duckcube")

API = "/cubejs-api/v1"
# What real Cube accepts for a string secret when no algorithm is configured.
_JWT_ALGORITHMS = ["HS256", "HS384", "HS512"]


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status,
                    mimetype="application/json")


def create_app(engine: Engine, api_secret: str | None = None) -> Flask:
    """A Flask app serving `engine`; with `api_secret`, every API call needs Cube's HS256 JWT."""
    app = Flask("duckcube")
    app.json.sort_keys = False  # type: ignore[attr-defined]

    def authorized() -> Response | None:
        if not api_secret:
            return None
        header = request.headers.get("Authorization") or request.headers.get(
            "x-cube-authorization")
        if not header:
            return _json({"error": "Authorization header isn't set"}, 403)
        token = header.split(" ", 1)[1] if " " in header else header
        try:
            jwt.decode(token, api_secret, algorithms=_JWT_ALGORITHMS,
                       options={"verify_aud": False})
        except jwt.PyJWTError:
            return _json({"error": "Invalid token"}, 403)
        return None

    def request_params() -> dict:
        """`query` / `queryType` from the query string (GET) or the JSON body (POST)."""
        if request.method == "GET":
            return {"query": request.args.get("query"),
                    "queryType": request.args.get("queryType")}
        raw = request.get_data(as_text=True)
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as exc:
            # Cube answers 500 for a malformed body; it is the caller's mistake, so 400.
            raise CubeError(400, {"error": f"Unable to decode query param as JSON, error: "
                                           f"{exc.msg}"}) from None
        return body if isinstance(body, dict) else {}

    def endpoint(handler: Callable[[dict], Any]) -> Callable[[], Response]:
        def view() -> Response:
            denied = authorized()
            if denied is not None:
                return denied
            try:
                return _json(handler(request_params()))
            except CubeError as exc:
                return _json(exc.body, exc.status)
            except Exception:  # our fault: never a stack trace to the client
                log.exception("internal error")
                return _json({"error": "Error: internal server error"}, 500)
        view.__name__ = handler.__name__
        return view

    def load(params: dict) -> Any:
        return engine.load(params.get("query"), params.get("queryType"))

    def sql(params: dict) -> Any:
        return engine.sql(params.get("query"))

    def dry_run(params: dict) -> Any:
        return engine.dry_run(params.get("query"))

    def meta(params: dict) -> Any:
        return engine.meta(extended=request.args.get("extended", "").lower() in ("true", "1"))

    app.add_url_rule(f"{API}/load", "load", endpoint(load), methods=["GET", "POST"])
    app.add_url_rule(f"{API}/sql", "sql", endpoint(sql), methods=["GET", "POST"])
    app.add_url_rule(f"{API}/dry-run", "dry_run", endpoint(dry_run), methods=["GET", "POST"])
    app.add_url_rule(f"{API}/meta", "meta", endpoint(meta), methods=["GET"])

    @app.get("/readyz")
    def readyz() -> Response:
        return _json({"health": "HEALTH"})

    @app.get("/livez")
    def livez() -> Response:
        return _json({"health": "HEALTH"})

    @app.after_request
    def cors(response: Response) -> Response:
        # Cube's CORS default is open, so browser front ends can call it directly.
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = (
            "Authorization, Content-Type, x-request-id, x-cube-authorization")
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        return response

    return app
