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

from typing import Any

from engine.web.auth import Caller

from .execute import execute_graphql
from .resolvers import DuoSettings
from .schema import schema, sdl

__all__ = ["Caller", "DuoSettings", "execute_graphql", "create_blueprint", "sdl", "schema"]


def __getattr__(name: str) -> Any:
    # The Flask routes load only when asked for, so the event catalogue (`events`), which the
    # sample-data generator reads, loads without Flask.
    if name == "create_blueprint":
        from .routes import create_blueprint
        return create_blueprint
    raise AttributeError(f"module 'engine.web.duo' has no attribute {name!r}")
