"""The Flask app: every HTTP surface of `engine.web` behind one `Auth`, and what all requests share.

    from engine import Engine
    from server import create_app
    app = create_app(Engine(models="cubes", database="fixtures/data"), api_secret=None)

The surfaces, each a blueprint of `engine.web`: Cube's REST routes (`/cubejs-api/v1/load|sql|
dry-run|meta`, `rest`), its GraphQL route (`/cubejs-api/graphql`, `graphql`), GitLab's product-
analytics routes (`/api/v4/projects/:id/product_analytics/request/load|dry-run|meta`, `gitlab`)
and GitLab's GraphQL for Duo AI analytics (`/api/graphql`, `duo`). Here: per-request statistics
and the log line, open CORS (as Cube), the model-error header and dev-mode reloads.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Mapping

from flask import Flask, Response, g, request

from engine import Engine
from engine.run import begin_stats
from engine.web import duo, gitlab, graphql, rest
from engine.web.auth import Auth, TokenStore
from engine.web.http import log
from engine.web.tenants import Tenants


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
    auth = Auth(api_secret, gitlab_tokens, duo_tokens)
    stores = {id(s): s for s in tenants.model_stores()}
    app = Flask("duckcube")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.register_blueprint(rest.create_blueprint(tenants, auth))
    app.register_blueprint(graphql.create_blueprint(tenants, auth))
    app.register_blueprint(gitlab.create_blueprint(tenants, auth))
    app.register_blueprint(duo.create_blueprint(lambda: tenants.for_context({}), auth))

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

    return app
