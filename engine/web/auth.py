"""Who may call what: one place for every HTTP surface's credentials.

- Cube's routes (`/cubejs-api/...`): with `CUBEJS_API_SECRET`, a JWT (HS256/384/512) in
  `Authorization` or `x-cube-authorization`; its payload is the security context, whose `appId`
  picks the tenant (`cube_context`). Without a secret there is no check.
- GitLab's product-analytics routes: a personal token (`PRIVATE-TOKEN` or `Authorization:
  Bearer`) from the tokens file, granting projects with a role (`TokenStore`, `gitlab_grants`).
- GitLab's GraphQL (Duo): a token naming a user, or the local administrator on an
  unauthenticated loopback server (`duo_caller`).

    auth = Auth(api_secret="s3cret", gitlab_tokens=TokenStore("tokens.json"))
    auth.cube_context({"Authorization": "Bearer <jwt>"})   # {"appId": ..., ...} or CubeError 403
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import jwt

from engine.errors import CubeError

log = logging.getLogger("duckcube")

# What real Cube accepts for a string secret when no algorithm is configured.
JWT_ALGORITHMS = ["HS256", "HS384", "HS512"]
LOOPBACK = {"127.0.0.1", "::1", "localhost"}

ROLES = {"guest": 10, "planner": 15, "reporter": 20, "developer": 30, "maintainer": 40,
         "owner": 50}
_PROJECT_ID = re.compile(r"^[0-9]{1,18}$")


class NotAuthorized(Exception):
    """The request carries no credential, or one this server does not know."""


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """`PRIVATE-TOKEN: <t>` or `Authorization: Bearer <t>`, as GitLab reads personal tokens."""
    token = headers.get("PRIVATE-TOKEN") or headers.get("Private-Token")
    if token:
        return token.strip()
    authorization = headers.get("Authorization") or ""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


# --- Cube's JWT ---------------------------------------------------------------------------------


def security_context(header: str | None, api_secret: str | None) -> dict:
    """Cube's default checkAuth: the verified JWT payload (`u` claim merged), else CubeError 403.
    Without a secret there is no check and the context is empty."""
    if not api_secret:
        return {}
    if not header:
        raise CubeError(403, {"error": "Authorization header isn't set"})
    token = header.split(" ", 1)[1] if " " in header else header
    try:
        payload = jwt.decode(token, api_secret, algorithms=JWT_ALGORITHMS,
                             options={"verify_aud": False, "require": []})
    except jwt.PyJWTError:
        raise CubeError(403, {"error": "Invalid token"}) from None
    if not isinstance(payload, dict):
        raise CubeError(403, {"error": "Invalid token"})
    if isinstance(payload.get("u"), dict):
        payload = {**payload, **payload["u"]}
        payload.pop("u", None)
    return payload



# --- GitLab's personal tokens -------------------------------------------------------------------


class TokenFileError(ValueError):
    pass


class TokenStore:
    """`{token: [project ids]}` or `{token: {project id: role}}` from a JSON file."""

    def __init__(self, path: str | Path | None):
        """`path=None`: no token is valid (every request gets 401)."""
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._tokens: dict[str, dict[int, int]] = {}
        if self.path is not None:
            self._load()

    def _load(self) -> None:
        assert self.path is not None
        try:
            stat = self.path.stat()
            raw = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise TokenFileError(f"{self.path}: {exc}") from None
        self._tokens = parse_tokens(raw, str(self.path))
        self._stamp = (stat.st_mtime_ns, stat.st_size)

    def _maybe_reload(self) -> None:
        if self.path is None:
            return
        try:
            stat = self.path.stat()
        except OSError:
            return
        if (stat.st_mtime_ns, stat.st_size) == self._stamp:
            return
        with self._lock:
            try:
                self._load()
                log.info("reloaded GitLab tokens from %s", self.path)
            except TokenFileError as exc:  # keep the previous tokens
                self._stamp = (stat.st_mtime_ns, stat.st_size)
                log.error("GitLab tokens file not reloaded: %s", exc)

    def projects(self, token: str) -> dict[int, int] | None:
        """Project id -> access level for `token`; None for an unknown token."""
        self._maybe_reload()
        found = None
        for known, projects in self._tokens.items():
            # compare every token, in constant time, so timing does not tell which one is close
            if hmac.compare_digest(known.encode(), token.encode()):
                found = projects
        return found


def parse_tokens(raw: Any, where: str = "tokens") -> dict[str, dict[int, int]]:
    if not isinstance(raw, dict):
        raise TokenFileError(f"{where}: expected a JSON object mapping tokens to project ids")
    tokens: dict[str, dict[int, int]] = {}
    for token, grant in raw.items():
        if not token:
            raise TokenFileError(f"{where}: empty token")
        if isinstance(grant, list):
            items = [(p, "reporter") for p in grant]
        elif isinstance(grant, dict):
            items = list(grant.items())
        else:
            raise TokenFileError(f"{where}: token {token[:4]}...: expected a list of project ids "
                                 "or an object of project id -> role")
        projects: dict[int, int] = {}
        for project, role in items:
            if isinstance(project, bool) or not (
                    isinstance(project, int) or (isinstance(project, str)
                                                 and _PROJECT_ID.match(project))):
                raise TokenFileError(f"{where}: token {token[:4]}...: bad project id {project!r}")
            if role not in ROLES:
                raise TokenFileError(f"{where}: token {token[:4]}...: unknown role {role!r} "
                                     f"(one of {', '.join(ROLES)})")
            projects[int(project)] = ROLES[role]
        tokens[token] = projects
    return tokens



# --- GitLab Duo's callers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who is asking. `username=None` is anonymous; `admin=True` forces administrator rights
    (the local administrator of an unauthenticated loopback server)."""
    username: str | None = None
    admin: bool = False

    @classmethod
    def local_admin(cls) -> "Caller":
        return cls("root", admin=True)

    @classmethod
    def anonymous(cls) -> "Caller":
        return cls(None)


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
    token = bearer_token(headers)
    if token:
        if tokens is None or token not in tokens:
            return None
        return Caller(tokens[token])
    if not auth_configured and (remote_addr or "") in LOOPBACK:
        return Caller.local_admin()
    return Caller.anonymous()



class Auth:
    """The credentials of one server, asked by each surface for its caller.

    api_secret:    Cube's JWT secret (None: no check on Cube's routes).
    gitlab_tokens: who may call GitLab's routes. Without it they need no token when there is no
                   `api_secret` (local use) and refuse everybody when there is one.
    duo_tokens:    {token: username} (or a JSON file of it) for GitLab's GraphQL; with no auth
                   configured at all, a loopback caller is the administrator."""

    def __init__(self, api_secret: str | None = None, gitlab_tokens: TokenStore | None = None,
                 duo_tokens: Mapping[str, str] | str | Path | None = None):
        self.api_secret = api_secret or None
        if gitlab_tokens is None and self.api_secret:
            gitlab_tokens = TokenStore(None)
        self.gitlab_tokens = gitlab_tokens
        self.duo_tokens = load_tokens(duo_tokens)
        self.configured = bool(self.api_secret or duo_tokens)

    def cube_context(self, headers: Mapping[str, str]) -> dict:
        """The security context of a request to Cube's routes (CubeError 403 when refused)."""
        header = headers.get("Authorization") or headers.get("x-cube-authorization")
        return security_context(header, self.api_secret)

    def gitlab_grants(self, headers: Mapping[str, str]) -> dict[int, int] | None:
        """Project id -> access level of the request's token; None when no check is
        configured; `NotAuthorized` for a missing or unknown token."""
        if self.gitlab_tokens is None:
            return None
        token = bearer_token(headers)
        grants = self.gitlab_tokens.projects(token) if token else None
        if grants is None:
            raise NotAuthorized()
        return grants

    def duo_caller(self, headers: Mapping[str, str], remote_addr: str | None) -> Caller | None:
        """The caller of a GitLab GraphQL request; None for an unknown token (401)."""
        return caller_for(headers, remote_addr, self.duo_tokens, self.configured)
