"""Stage 4: a normalized query -> a plan -> SQL text and bound parameters, in a dialect.

    plan = build_plan(model, query)      # members resolved, joins chosen, dates in UTC
    compiled = compile_plan(model, plan, dialect="duckdb")
    compiled.sql, compiled.params        # 'SELECT ... WHERE ... >= $1', ['2026-11-01T00:00:00.000']

`plan` decides the query's shape (columns, join tree, which measures a join would inflate,
cumulative windows, filter bounds); `sql` renders that plan with sqlglot and binds every
value that came with the request; `dialects` holds what DuckDB and ClickHouse spell
differently. Nothing here runs SQL or reads the clock.
"""

from .dialects import CLICKHOUSE, DUCKDB, Dialect, Fragment, get_dialect
from .plan import (GRANULARITIES, Column, JoinStep, Plan, PlannedFilter, PlannedGroup,
                   PlannedNode, Window, build_plan, fan_out_leaves, filter_members,
                   find_any_member, find_member, leaf_measures, source_member)
from .sql import (CompiledQuery, Renderer, check_model_sql, compile_plan, constant_offset,
                  cube_source, key_count_probes)

__all__ = [
    "CLICKHOUSE", "DUCKDB", "Dialect", "Fragment", "get_dialect", "GRANULARITIES", "Column",
    "JoinStep", "Plan", "PlannedFilter", "PlannedGroup", "PlannedNode", "Window", "build_plan",
    "fan_out_leaves", "filter_members", "find_any_member", "find_member", "leaf_measures",
    "source_member", "CompiledQuery", "Renderer", "check_model_sql", "compile_plan",
    "constant_offset", "cube_source", "key_count_probes",
]
