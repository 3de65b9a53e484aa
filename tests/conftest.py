"""Shared fixtures: an engine over the conformance model and data (real DuckDB, clock frozen)."""

from pathlib import Path

import pytest

from engine import Engine

TESTS = Path(__file__).parent
CONFORMANCE = TESTS / "conformance"
RECORDED_AT = "2026-11-22T11:10:14Z"


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine(models=CONFORMANCE / "model", database=CONFORMANCE / "data", now=RECORDED_AT)
