"""Test-only glue for the ClickHouse suites: the recorded conformance case paths and
`BackendEngine(models, backend, ...)`, an `Engine` that compiles for and runs on `backend`."""

from __future__ import annotations

from pathlib import Path

from engine import Engine
from engine.run.backends import Backend

TESTS = Path(__file__).resolve().parent.parent
CONFORMANCE = TESTS / "conformance"
RECORDED_AT = "2026-11-22T11:10:14Z"


def BackendEngine(models, backend: Backend, **kwargs) -> Engine:  # noqa: N802 - reads as a type
    """`Engine(models, backend=backend, ...)`: queries compiled in the backend's dialect."""
    return Engine(models, backend=backend, **kwargs)


def needs_chdb() -> None:
    """Skip the calling test module when chDB or clickhouse-connect is not installed."""
    import pytest
    for module in ("chdb", "clickhouse_connect"):
        pytest.importorskip(module, reason=f"the ClickHouse tests need {module}: "
                                           "pip install -e '.[clickhouse]'")
