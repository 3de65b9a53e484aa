"""The engine the running pytest test draws queries from.

The pytest plugin sets it around each test (the test's `cube_engine` fixture) and registers how
to build the configured one; `cube_query()` reads it when its first example is drawn. Kept apart
from both so the plugin loads without Hypothesis and the strategies without pytest.
"""

from __future__ import annotations

from typing import Callable

from engine.api import Engine

running: Engine | None = None
configured: Callable[[], Engine] | None = None


def current_engine() -> Engine:
    """The `cube_engine` the running test set up, else the engine the configuration describes."""
    if running is not None:
        return running
    if configured is None:
        raise RuntimeError("duckcube's pytest plugin is not active: add "
                           "`pytest_plugins = [\"engine.testing.pytest_plugin\"]` to conftest.py")
    return configured()
