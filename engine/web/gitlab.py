"""GitLab's Product analytics API, answered directly (no GitLab, no Cube behind it).

    POST /api/v4/projects/:id/product_analytics/request/load      {query, queryType="multi", include_token}
    POST /api/v4/projects/:id/product_analytics/request/dry-run   same body
    GET|POST /api/v4/projects/:id/product_analytics/request/meta

GitLab proxies these to Cube with a JWT whose `appId` is `gitlab_project_<id>`; we serve project
`<id>` from tenant `gitlab_project_<id>` (`--tenants DIR`), or from the one database when the
server has no tenants. Statuses and bodies are GitLab's (`ee/lib/api/analytics/product_analytics.rb`,
`CubeDataQueryService`), checked in GitLab's order:

| situation                                              | status | body |
|--------------------------------------------------------|--------|------|
| no token, or a token not in the tokens file            | 401 | `{"message": "401 Unauthorized"}` |
| `:id` not an integer (`../2`, `1%2F..`, `abc`)         | 400 | `{"error": "project_id is invalid"}` |
| `query` missing / not an object (load, dry-run)        | 400 | `{"error": "query is missing"}` / `{"error": "query is invalid"}` |
| `queryType` / `include_token` of the wrong type        | 400 | `{"error": "queryType is invalid"}` / `{"error": "include_token is invalid"}` |
| the token may not read the project                     | 404 | `{"message": "404 Project Not Found"}` |
| the token's role on it is below Reporter (`guest`)     | 401 | `{"message": "Access Denied"}` |
| the project has no data (no tenant)                    | 404 | `{"message": "404 Clickhouse Database Not Found"}` |
| the query is still running                             | 200 | `{"error": "Continue wait"}` (passed through) |
| any query error                                        | 400 | `{"message": "<Cube's error text>"}` |
| success                                                | 200 | Cube's body; `load` with GitLab's day zero-fill |

GitLab's 502 (Cube unreachable or not JSON) cannot happen here: there is no upstream.

`include_token` is accepted (a boolean). In GitLab it mints a one-day project access token and
signs it into the JWT claim `gitlabToken` sent to Cube, for the analytics stack to call back into
GitLab (funnels, removed in 17.4); GitLab never returns it in the response. There is nothing to
call back here, so no token is minted and the response is the same with or without it.

Tokens file (`--gitlab-tokens FILE`), JSON: each token maps to the project ids it may read,
`{"tok-a": [1], "tok-b": [1, 2]}`, or to ids with a GitLab role,
`{"tok-c": {"1": "reporter", "2": "guest"}}` (Reporter and above may query, as in GitLab). A token
is sent as `PRIVATE-TOKEN: <token>` or `Authorization: Bearer <token>`. The file is re-read when
it changes.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any, Callable, Mapping

from flask import Blueprint, Response, request

from engine.errors import CubeError

from .auth import ROLES, Auth, NotAuthorized
from .http import json_response, log, request_params
from .tenants import Tenants

_READ_DASHBOARDS = ROLES["reporter"]  # :read_customizable_dashboards
_PROJECT_ID = re.compile(r"^[0-9]{1,18}$")
ACTIONS = ("load", "dry-run", "meta")


def tenant_of(project_id: int) -> str:
    """The tenant GitLab's JWT names for a project (`appId`)."""
    return f"gitlab_project_{project_id}"


class GitLabError(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(body)
        self.status = status
        self.body = body


def _message(status: int, message: str) -> GitLabError:
    return GitLabError(status, {"message": message})


def _invalid(name: str, what: str = "invalid") -> GitLabError:
    return GitLabError(400, {"error": f"{name} is {what}"})  # Grape's parameter errors


class GitLabAPI:
    """The three routes' logic; `auth` says which projects a request's token may read."""

    def __init__(self, tenants: Tenants, auth: Auth):
        self.tenants = tenants
        self.auth = auth

    def handle(self, action: str, project_id: str, headers: Mapping[str, str],
               params: Callable[[], dict]) -> tuple[int, Any]:
        """Answer one request: `(status, body)`. `params()` reads the request parameters."""
        try:
            return 200, self._handle(action, project_id, headers, params)
        except GitLabError as exc:
            return exc.status, exc.body

    def _handle(self, action: str, project_id: str, headers: Mapping[str, str],
                params: Callable[[], dict]) -> Any:
        grants = self._authenticate(headers)
        if not _PROJECT_ID.match(project_id or ""):
            raise _invalid("project_id")
        project = int(project_id)
        body = params()
        query, query_type = None, "multi"
        if action != "meta":
            query, query_type = _declared_params(body)
        if grants is not None and project not in grants:
            raise _message(404, "404 Project Not Found")
        if grants is not None and grants[project] < _READ_DASHBOARDS:
            raise _message(401, "Access Denied")
        tenant = tenant_of(project)
        if self.tenants.multi and not self.tenants.exists(tenant):
            raise _message(404, "404 Clickhouse Database Not Found")
        engine = self.tenants.get(tenant)
        try:
            if action == "meta":
                return engine.meta()
            if action == "dry-run":
                return engine.dry_run(query)
            result = engine.load(query, query_type)
        except CubeError as exc:
            if exc.status == 200:  # "Continue wait": GitLab passes Cube's body through
                return exc.body
            raise _message(400, _error_text(exc.body)) from None
        if isinstance(result, dict) and isinstance(result.get("results"), list):
            zero_fill(query, result["results"])
        return result

    def _authenticate(self, headers: Mapping[str, str]) -> dict[int, int] | None:
        try:
            return self.auth.gitlab_grants(headers)
        except NotAuthorized:
            raise _message(401, "401 Unauthorized") from None


def _declared_params(body: dict) -> tuple[dict, str]:
    """`query` (object, required), `queryType` (string, default multi), `include_token` (bool)."""
    if "query" not in body or body["query"] is None:
        raise _invalid("query", "missing")
    query = body["query"]
    if isinstance(query, str):  # cubejs GET style: the query as a JSON string
        try:
            query = json.loads(query)
        except json.JSONDecodeError:
            raise _invalid("query") from None
    if not isinstance(query, dict):
        raise _invalid("query")
    query_type = body.get("queryType", "multi")
    if query_type is None:
        query_type = "multi"
    if not isinstance(query_type, str):
        raise _invalid("queryType")
    include_token = body.get("include_token", False)
    if include_token not in (True, False, "true", "false", "1", "0", 1, 0, None):
        raise _invalid("include_token")
    return query, query_type


def _error_text(body: dict) -> str:
    return str(body.get("error") or body.get("message") or body)


def create_blueprint(tenants: Tenants, auth: Auth) -> Blueprint:
    """`GET|POST /api/v4/projects/<id>/product_analytics/request/<load|dry-run|meta>`."""
    gitlab = GitLabAPI(tenants, auth)
    blueprint = Blueprint("gitlab_product_analytics", __name__)

    @blueprint.route("/api/v4/projects/<path:project_id>/product_analytics/request/<action>",
                     methods=["GET", "POST"])
    def gitlab_route(project_id: str, action: str) -> Response:
        if action not in ACTIONS:
            return json_response({"error": "404 Not Found"}, 404)

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
        return json_response(body, status)

    return blueprint


# --- GitLab's DataTransformer --------------------------------------------------------------


def zero_fill(query: dict, results: list[dict]) -> list[dict]:
    """GitLab's `Gitlab::CubeJs::DataTransformer`, applied to every load response: for each
    `inDateRange` *filter* (not `timeDimensions.dateRange`) of a query with measures, when the
    result rows carry `<member>.day` (the same member grouped by day), append a row
    `{"<member>.day": d, "<member>": d, "<measure>": "0"...}` for every day of the filter's range
    missing from the rows. Appended at the end, unsorted, ignoring `limit`, as GitLab does.
    Changes `results` in place and returns it."""
    filters = [f for f in (query.get("filters") or [])
               if isinstance(f, dict) and f.get("operator") == "inDateRange"]
    measures = query.get("measures") or []
    if not filters or not measures or not results:
        return results
    for result in results:
        data = result.get("data")
        if not isinstance(data, list):
            continue
        for filter_ in filters:
            member = filter_.get("member")
            days = _days(filter_.get("values"))
            if days is None:
                continue
            present = {row.get(member) for row in data}
            missing = [d for d in days if d not in present]
            if not missing or not (data and data[0].get(f"{member}.day")):
                continue
            for day in missing:
                row = {f"{member}.day": day, f"{member}": day}
                row.update({measure: "0" for measure in measures})
                data.append(row)
    return results


def _days(values: Any) -> list[str] | None:
    """Every day from `values[0]` to `values[1]` (inclusive) as `YYYY-MM-DDT00:00:00.000`."""
    if not isinstance(values, list) or len(values) < 2:
        return None
    try:
        first, last = (date.fromisoformat(str(v)[:10]) for v in values[:2])
    except ValueError:
        return None
    if (last - first).days > 366 * 20:
        return None  # a range no dashboard asks for; do not build millions of rows
    return [(first + timedelta(days=i)).isoformat() + "T00:00:00.000"
            for i in range((last - first).days + 1)]
