"""Testing Cube models: Hypothesis strategies, invalid queries, invariants, `duckcube check`,
and the pytest plugin.

    from engine.testing import queries, compiles_and_runs     # strategies.py (needs Hypothesis)
    duckcube check --models cubes --db data/                  # check.py
    pytest_plugins = ["engine.testing.pytest_plugin"]         # pytest_plugin.py, `cube_engine`

The names below come from `strategies` when first used, so importing the pytest plugin or
`duckcube check --no-properties` does not need Hypothesis.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "FEATURES", "REQUIRABLE", "GRANULARITIES", "RELATIVE_DATE_RANGES", "InvalidQuery", "INVARIANTS",
    "queries", "cube_query", "invalid_queries", "filter_values", "date_ranges", "column_values",
    "assert_rejected", "check_invariants", "compiles_and_runs", "additive_measures_sum_to_total",
    "filter_and_negation_partition", "pages_concatenate", "order_is_respected",
    "dry_run_round_trips", "reachable_cubes", "parent_cubes",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("engine.testing.strategies"), name)
    raise AttributeError(f"module 'engine.testing' has no attribute {name!r}")
