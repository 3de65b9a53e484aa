"""The HTTP face of duckcube: routes and auth, nothing else.

Cube's REST routes (`/cubejs-api/v1/load|sql|dry-run|meta`), its GraphQL route
(`/cubejs-api/graphql`) and GitLab's product-analytics routes
(`/api/v4/projects/:id/product_analytics/request/load|dry-run|meta`). Query work happens in
`engine.Engine`, tenant choice in `engine.tenants`, GitLab's rules in `engine.gitlab`, GraphQL in
`engine.graphql_cube`; this module moves requests in and bodies out.

    from engine import Engine
    from server import create_app
    app = create_app(Engine(models="cubes", database="fixtures/data"), api_secret=None)
"""

from __future__ import annotations

import json
import logging
import re
import time
from itertools import chain
from pathlib import Path
from typing import Any, Callable, Mapping

import jwt
from flask import Flask, Response, g, request

try:
    import orjson
except ImportError:  # a dependency; without it the standard library writes the same bodies
    orjson = None  # type: ignore[assignment]

from engine import CubeError, Engine
from engine.run.cache import begin_stats, current_stats
from engine.web.gitlab import ACTIONS, GitLabAPI, GitLabError, TokenStore
from engine.web.duo import create_blueprint as duo_blueprint
from engine.web.graphql import GraphQLAPI
from engine.web.tenants import Tenants

log = logging.getLogger("duckcube")

API = "/cubejs-api/v1"
GITLAB = "/api/v4/projects/<path:project_id>/product_analytics/request/<action>"
# What real Cube accepts for a string secret when no algorithm is configured.
_JWT_ALGORITHMS = ["HS256", "HS384", "HS512"]


_PLAIN = frozenset((str, int, bool, type(None)))
_NESTED = frozenset((dict, list, tuple))
_ROWS = {dict}


def _orjson_writes_as_stdlib(body: Any) -> bool:
    """Whether `body` holds only dicts, lists, tuples, str, int, bool and None (exact types),
    which orjson writes exactly as `json.dumps` does. A float is out (orjson writes 1e-05 as
    0.00001 and NaN as null, stdlib 1e-05 and NaN), and so is anything else (stdlib refuses a
    datetime or UUID, orjson writes it). The type scans run in C, a list of rows in one go: on
    a 10,000-row /load body, scan and orjson take 3 ms where `json.dumps` takes 13 ms."""
    kind = type(body)
    if kind is dict:
        values: Any = body.values()
    elif kind is list or kind is tuple:
        values = body
    else:
        return kind in _PLAIN
    types = set(map(type, values))
    if types <= _PLAIN:
        return True
    if types == _ROWS and set(map(type, chain.from_iterable(map(dict.values, values)))) <= _PLAIN:
        return True
    if not types <= _PLAIN | _NESTED:
        return False
    return all(_orjson_writes_as_stdlib(value) for value in values if type(value) in _NESTED)


def encode_json(body: Any) -> bytes:
    """A response body as UTF-8 JSON, compact (`{"a":1,"b":[2,3]}`, as Cube's Express sends it).
    orjson when it writes the same text as the standard library (see above), which is always
    the case for the bodies the engine builds; else `json.dumps`."""
    if orjson is not None and _orjson_writes_as_stdlib(body):
        try:
            return orjson.dumps(body)
        except orjson.JSONEncodeError:  # a non-str key, an int past 64 bits, a lone surrogate
            pass
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _json(body: Any, status: int = 200) -> Response:
    """`body` (or its encoding, when already `bytes`) as an application/json response."""
    data = body if isinstance(body, bytes) else encode_json(body)
    return Response(data, status=status, mimetype="application/json")


_LONG_DIGITS = re.compile(rb"[0-9]{19}")


def parse_json_body(raw: bytes) -> Any:
    """A request body's JSON; `json.JSONDecodeError` (the stdlib's message) when malformed.

    orjson reads what it accepts to the same value as `json.loads`; what it refuses (NaN
    literals, lone surrogates, invalid UTF-8, malformed text) goes through the standard
    library, so results and error messages are the stdlib's. So does a body with a run of 19+
    digits: orjson reads an int past 64 bits as a float, where the stdlib keeps it exact."""
    if orjson is not None and not _LONG_DIGITS.search(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw.decode(errors="replace"))


def security_context(header: str | None, api_secret: str | None) -> dict:
    """Cube's default checkAuth: the verified JWT payload (`u` claim merged), else CubeError 403.
    Without a secret there is no check and the context is empty."""
    if not api_secret:
        return {}
    if not header:
        raise CubeError(403, {"error": "Authorization header isn't set"})
    token = header.split(" ", 1)[1] if " " in header else header
    try:
        payload = jwt.decode(token, api_secret, algorithms=_JWT_ALGORITHMS,
                             options={"verify_aud": False, "require": []})
    except jwt.PyJWTError:
        raise CubeError(403, {"error": "Invalid token"}) from None
    if not isinstance(payload, dict):
        raise CubeError(403, {"error": "Invalid token"})
    if isinstance(payload.get("u"), dict):
        payload = {**payload, **payload["u"]}
        payload.pop("u", None)
    return payload


def create_app(engine: Engine | Tenants, api_secret: str | None = None, *,
               gitlab_tokens: TokenStore | None = None,
               duo_tokens: Mapping[str, str] | str | Path | None = None) -> Flask:
    """A Flask app serving `engine` (or one engine per tenant).

    api_secret:    with it, every Cube route needs Cube's HS256 JWT; its payload is the security
                   context, whose `appId` picks the tenant.
    gitlab_tokens: who may call the GitLab routes. Without it they need no token when there is no
                   `api_secret` (local use) and refuse everybody (401) when there is one.
    duo_tokens:    {token: username} (or a JSON file of it) for GitLab's `/api/graphql` (Duo AI
                   analytics); with no auth configured, a loopback caller is the administrator."""
    tenants = engine if isinstance(engine, Tenants) else Tenants.single(engine)
    if gitlab_tokens is None and api_secret:
        gitlab_tokens = TokenStore(None)
    gitlab = GitLabAPI(tenants, gitlab_tokens)
    graphql = GraphQLAPI()
    stores = {id(s): s for s in tenants.model_stores()}
    app = Flask("duckcube")
    app.json.sort_keys = False  # type: ignore[attr-defined]

    def request_params() -> dict:
        """Parameters from the query string (GET) or the JSON body (POST)."""
        if request.method == "GET":
            return request.args.to_dict()
        raw = request.get_data()
        if not raw.strip():
            return {}
        try:
            body = parse_json_body(raw)
        except json.JSONDecodeError as exc:
            if not raw.decode(errors="replace").strip():  # only Unicode whitespace
                return {}
            # Cube answers 500 for a malformed body; it is the caller's mistake, so 400.
            raise CubeError(400, {"error": f"Unable to decode query param as JSON, error: "
                                           f"{exc.msg}"}) from None
        return body if isinstance(body, dict) else {}

    def current_engine() -> Engine:
        header = request.headers.get("Authorization") or request.headers.get(
            "x-cube-authorization")
        return tenants.for_context(security_context(header, api_secret))

    def endpoint(handler: Callable[[Engine, dict], Any]) -> Callable[[], Response]:
        def view() -> Response:
            try:
                engine_ = current_engine()
                return _json(handler(engine_, request_params()))
            except CubeError as exc:
                return _json(exc.body, exc.status)
            except Exception:  # our fault: never a stack trace to the client
                log.exception("internal error")
                return _json({"error": "Error: internal server error"}, 500)
        view.__name__ = handler.__name__
        return view

    def load(engine_: Engine, params: dict) -> Any:
        return engine_.load(params.get("query"), params.get("queryType"), params.get("cache"))

    def sql(engine_: Engine, params: dict) -> Any:
        return engine_.sql(params.get("query"))

    def dry_run(engine_: Engine, params: dict) -> Any:
        return engine_.dry_run(params.get("query"))

    # /meta is a function of the model alone (`build_meta(engine.model, extended)`), so its
    # encoded body is kept until the model object changes (a dev-mode reload makes a new one):
    # on the 200-cube bench model, 67 ms per request (121 ms extended) becomes 4.5 ms, the send
    # alone. One entry per `extended`; tenants share the model, so they share the entry.
    meta_bodies: dict[bool, tuple[Any, bytes]] = {}

    def meta(engine_: Engine, params: dict) -> Any:
        extended = request.args.get("extended", "").lower() in ("true", "1")
        model = engine_.model
        cached = meta_bodies.get(extended)
        if cached is not None and cached[0] is model:
            current_stats().tenant = engine_.tenant
            return cached[1]
        body = encode_json(engine_.meta(extended=extended))
        meta_bodies[extended] = (model, body)
        return body

    app.add_url_rule(f"{API}/load", "load", endpoint(load), methods=["GET", "POST"])
    app.add_url_rule(f"{API}/sql", "sql", endpoint(sql), methods=["GET", "POST"])
    app.add_url_rule(f"{API}/dry-run", "dry_run", endpoint(dry_run), methods=["GET", "POST"])
    app.add_url_rule(f"{API}/meta", "meta", endpoint(meta), methods=["GET", "POST"])

    @app.route("/cubejs-api/graphql", methods=["GET", "POST"])
    def graphql_route() -> Response:
        try:
            engine_ = current_engine()
            params = request_params()
            variables = params.get("variables")
            if isinstance(variables, str) and variables.strip():
                try:
                    variables = json.loads(variables)
                except json.JSONDecodeError:
                    return _json({"errors": [{"message": "Variables are invalid JSON."}]}, 400)
            status, body = graphql.execute(engine_, params.get("query"), variables or None,
                                           params.get("operationName"))
            return _json(body, status)
        except CubeError as exc:
            return _json(exc.body, exc.status)
        except Exception:
            log.exception("internal error")
            return _json({"errors": [{"message": "Internal server error"}]}, 500)

    @app.route(GITLAB, methods=["GET", "POST"])
    def gitlab_route(project_id: str, action: str) -> Response:
        if action not in ACTIONS:
            return _json({"error": "404 Not Found"}, 404)

        def params() -> dict:
            try:
                return request_params()
            except CubeError:
                raise GitLabError(400, {"error": "body is not valid JSON"}) from None
        try:
            status, body = gitlab.handle(action, project_id, request.headers, params)
        except Exception:
            log.exception("internal error")
            status, body = 500, {"message": "500 Internal Server Error"}
        return _json(body, status)

    @app.get("/readyz")
    def readyz() -> Response:
        return _json({"health": "HEALTH"})

    @app.get("/livez")
    def livez() -> Response:
        return _json({"health": "HEALTH"})

    @app.before_request
    def start() -> None:
        g.started = time.perf_counter()
        g.stats = begin_stats()
        for store in stores.values():
            store.refresh()  # dev mode: pick up model edits; otherwise a no-op

    @app.after_request
    def finish(response: Response) -> Response:
        # Cube's CORS default is open, so browser front ends can call it directly.
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = (
            "Authorization, Content-Type, x-request-id, x-cube-authorization, PRIVATE-TOKEN")
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        broken = next((s.error for s in stores.values() if s.error is not None), None)
        if broken is not None:
            response.headers["x-duckcube-model-error"] = str(broken).replace("\n", " ")[:1000]
        if request.path not in ("/readyz", "/livez") and "stats" in g:
            stats = g.stats
            log.info("%s %s %d tenant=%s compile_ms=%.1f db_ms=%.1f cache=%s total_ms=%.1f "
                     "request_id=%s", request.method, request.path, response.status_code,
                     stats.tenant or "-", stats.compile_ms, stats.db_ms, stats.cache or "-",
                     (time.perf_counter() - g.started) * 1000,
                     request.headers.get("x-request-id", "-"))
        return response

    app.register_blueprint(duo_blueprint(lambda: tenants.for_context({}), tokens=duo_tokens,
                                         auth_configured=bool(api_secret or duo_tokens)))
    return app
