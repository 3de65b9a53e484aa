"""pytest plugin: an `Engine` over your models and test data, and Hypothesis queries drawn from it.

Configure it in `pytest.ini` / `pyproject.toml` (`[tool.pytest.ini_options]`) or on the command
line (the command line wins):

    cube_models = cubes              # --cube-models DIR   (default: ./cubes)
    cube_db = tests/data             # --cube-db PATH      (DuckDB file or Parquet/CSV directory)
    cube_now = 2026-01-15T12:00:00Z  # --cube-now ISO      (freeze relative dates; optional)

Relative paths in the ini file are relative to the directory of the ini file.
Then, in a test file:

    from hypothesis import given
    from engine.testing import compiles_and_runs, cube_query

    @given(cube_query())
    def test_dashboard_never_breaks(cube_engine, query):
        compiles_and_runs(cube_engine, query)

Fixtures:
    cube_engine  (session) the `Engine` over the configured models and database.
    cube_query   (session) `engine.testing.cube_query`, the strategy factory, for `st.data()` tests.

`engine.testing.cube_query(**options)` can go in `@given(...)` at import time: it builds its
strategy when the first example is drawn, from the `cube_engine` the test asked for (yours, if
a conftest overrides the fixture) or else the configured one. Options are those of
`engine.testing.queries` (cubes, features, require, exclude, max_members).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine

from . import current

_OPTIONS = (
    ("cube_models", "--cube-models", "directory of Cube YAML models (default: ./cubes)"),
    ("cube_db", "--cube-db", "DuckDB file or directory of Parquet/CSV files for cube_engine"),
    ("cube_now", "--cube-now", "ISO-8601 instant relative date ranges resolve against"),
)

# Configurations of the pytest sessions running (a stack: pytester nests sessions) and engines
# built per configuration; the `cube_engine` of the test running now is `current.running`.
_configs: list[pytest.Config] = []
_engines: dict[tuple, Engine] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("duckcube", "duckcube: property-based testing of cube models")
    for ini, flag, text in _OPTIONS:
        group.addoption(flag, dest=ini, default=None, help=text)
        parser.addini(ini, text, default=None)


def pytest_configure(config: pytest.Config) -> None:
    _configs.append(config)
    current.configured = configured_engine


def pytest_unconfigure(config: pytest.Config) -> None:
    if config in _configs:
        _configs.remove(config)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    # cube_query() draws from the engine the running test asked for.
    engine = getattr(item, "funcargs", {}).get("cube_engine")
    previous = current.running
    current.running = engine if isinstance(engine, Engine) else None
    try:
        return (yield)
    finally:
        current.running = previous


def _setting(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(name, default=None)
    if value:
        return str(value)
    try:
        value = config.getini(name)
    except ValueError:
        return None  # the plugin was loaded after the ini file was read
    if not value:
        return None
    path = Path(str(value))
    if config.inipath is not None and name != "cube_now" and not path.is_absolute():
        return str(config.inipath.parent / path)
    return str(value)


def configured_engine(config: pytest.Config | None = None) -> Engine:
    """The `Engine` the configuration describes (models, database, clock), built once."""
    if config is None:
        if not _configs:
            raise RuntimeError("duckcube's pytest plugin is not active: add "
                               "`pytest_plugins = [\"engine.testing.pytest_plugin\"]` to conftest.py")
        config = _configs[-1]
    models = _setting(config, "cube_models") or str(config.rootpath / "cubes")
    key = (models, _setting(config, "cube_db"), _setting(config, "cube_now"))
    if key not in _engines:
        _engines[key] = Engine(models=key[0], database=key[1], now=key[2])
    return _engines[key]


@pytest.fixture(scope="session")
def cube_engine(pytestconfig: pytest.Config) -> Engine:
    """The `Engine` over `--cube-models` / `cube_models` and `--cube-db` / `cube_db`."""
    return configured_engine(pytestconfig)


@pytest.fixture(scope="session", name="cube_query")
def _cube_query_fixture(cube_engine: Engine) -> Any:
    """`cube_query(**options)`: a strategy factory, for tests that draw with `st.data()`."""
    from engine.testing import cube_query  # Hypothesis only when asked for: the plugin loads without
    return cube_query
