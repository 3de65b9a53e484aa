"""Test-only glue: an `Engine` that compiles for, and runs on, a `Backend` from engine.backends.

`Engine` itself does not take a backend yet (see README "Moving to ClickHouse" for the change);
`BackendEngine(models, backend, ...)` is that change, made by overriding the two steps that
touch the database: compiling (`_prepare`, now in the backend's dialect) and running
(`_result`, on the backend's connection, reporting its `dbType`).
"""

from __future__ import annotations

from pathlib import Path

from engine import Engine
from engine.api import _Prepared
from engine.backends import Backend
from engine.plan import build_plan
from engine.sqlgen import compile_plan

TESTS = Path(__file__).resolve().parent.parent
CONFORMANCE = TESTS / "conformance"
RECORDED_AT = "2026-11-22T11:10:14Z"


class BackendEngine(Engine):
    """`Engine(models, backend=backend, ...)`, as the engine will take it."""

    def __init__(self, models, backend: Backend, **kwargs):
        super().__init__(models, database=None, **kwargs)
        self.backend = backend
        self.connection = backend.connection

    def _prepare(self, query, model=None):
        model = model or self.model
        plan = build_plan(model, query)
        return _Prepared(query, plan, compile_plan(model, plan, total=bool(query.total),
                                                   dialect=self.backend.dialect))

    def _result(self, prepared, refreshed, execution=None):
        body = super()._result(prepared, refreshed, execution)
        body["dbType"] = self.backend.db_type
        return body


def needs_chdb() -> None:
    """Skip the calling test module when chDB or clickhouse-connect is not installed."""
    import pytest
    for module in ("chdb", "clickhouse_connect"):
        pytest.importorskip(module, reason=f"the ClickHouse tests need {module}: "
                                           "pip install -e '.[clickhouse]'")
