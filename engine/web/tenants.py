"""Which data a request may read: one database for everybody, or one per tenant.

Cube picks a tenant from the security context (`contextToAppId`); GitLab signs `appId:
"gitlab_project_<id>"` into its JWT. Here:

    Tenants.single(engine)                    # no tenants: every request reads `engine`
    Tenants.directory("tenants/", make_engine)  # tenant X reads tenants/X.duckdb or tenants/X/

A tenant name must match `[A-Za-z0-9_-]{1,128}`: nothing that could name a path outside the
directory (`..`, `/`, `\\`, `%2F`...). Each tenant gets its own `Engine` (its own DuckDB handle,
its own cache scope), opened on first use; an unknown tenant is an error, never a fallback to
someone else's data.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any, Callable

from engine.api import Engine, ModelStore
from engine.errors import CubeError

TENANT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class UnknownTenant(CubeError):
    """403 `{"error": ...}`: the token is valid but names no tenant this server has."""

    def __init__(self, message: str):
        super().__init__(403, {"error": message})


def app_id(context: dict | None) -> Any:
    """The tenant a security context names: its `appId` (Cube's usual `contextToAppId` input)."""
    return (context or {}).get("appId")


class Tenants:
    """Engines by tenant name."""

    def __init__(self, engine: Engine | None = None, root: Path | None = None,
                 make_engine: Callable[[str, Path], Engine] | None = None,
                 model_store: ModelStore | None = None):
        self._single = engine
        self.root = root
        self._make_engine = make_engine
        self._model_store = model_store
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    @classmethod
    def single(cls, engine: Engine) -> "Tenants":
        return cls(engine=engine)

    @classmethod
    def directory(cls, root: str | Path, make_engine: Callable[[str, Path], Engine],
                  model_store: ModelStore | None = None) -> "Tenants":
        """Tenants under `root`; `make_engine(name, source)` opens one (sharing `model_store`,
        the model every tenant is served with)."""
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"tenants directory not found: {root}")
        return cls(root=root.resolve(), make_engine=make_engine, model_store=model_store)

    def model_stores(self) -> list[ModelStore]:
        """The models served (what dev mode reloads)."""
        if self._single is not None:
            return [self._single.model_store]
        return [self._model_store] if self._model_store is not None else []

    @property
    def multi(self) -> bool:
        return self._single is None

    def engines(self) -> list[Engine]:
        """The engines open so far."""
        if self._single is not None:
            return [self._single]
        with self._lock:
            return list(self._engines.values())

    def for_context(self, context: dict | None) -> Engine:
        """The engine a (verified) security context may read."""
        if self._single is not None:
            return self._single
        name = app_id(context)
        if name is None:
            raise UnknownTenant("No tenant: the security context has no appId")
        return self.get(name)

    def get(self, name: Any) -> Engine:
        """The engine of tenant `name`; `UnknownTenant` when there is none."""
        if self._single is not None:
            return self._single
        source = self.source(name)
        if source is None:
            raise UnknownTenant(f"Unknown tenant: no data for appId {_shown(name)}")
        with self._lock:
            engine = self._engines.get(name)
            if engine is None:
                engine = self._make_engine(name, source)  # type: ignore[misc]
                self._engines[name] = engine
            return engine

    def exists(self, name: Any) -> bool:
        return self._single is not None or self.source(name) is not None

    def source(self, name: Any) -> Path | None:
        """`root/<name>.duckdb` or the folder `root/<name>/`, for a well-formed name only."""
        if self.root is None or not isinstance(name, str) or not TENANT_NAME.match(name):
            return None
        database = self.root / f"{name}.duckdb"
        if database.is_file():
            return database
        folder = self.root / name
        if folder.is_dir():
            return folder
        return None


def _shown(name: Any) -> str:
    text = repr(name) if not isinstance(name, str) else f"'{name}'"
    return text if len(text) <= 80 else text[:77] + "...'"


class DatabaseTenants(Tenants):
    """Tenants as the databases of one ClickHouse server (GitLab: `gitlab_project_<id>`):
    tenant X reads database X; `make_engine(name, name)` opens its engine."""

    def __init__(self, server, make_engine: Callable[[str, Any], Engine],
                 model_store: ModelStore | None = None):
        super().__init__(make_engine=make_engine, model_store=model_store)
        self.server = server

    def source(self, name: Any):
        if not isinstance(name, str) or not TENANT_NAME.match(name):
            return None
        return name if name in self.server.databases() else None
