"""Stage 6: the bodies Cube sends, from a plan and its rows.

    shape_rows(plan, rows)       # [{"Orders.status": "completed", "Orders.count": "12"}, ...]
    annotation(plan)             # titles, types, formats of every selected member
    build_meta(model)            # /v1/meta
    transformed_query(model, plan)   # dry-run's transformedQueries
    encode_json(body)            # the body as Cube's Express writes it

`rows` shapes values as JavaScript prints them (`engine.javascript`), `meta` and `formats`
describe members, `transformed` explains a query as Cube's planner would, `bodies` writes and
reads JSON text.
"""

from .bodies import encode_json, parse_json_body, writes_as_stdlib
from .meta import build_meta, value_type
from .rows import annotation, column_formatter, compact, format_time, format_value, shape_rows
from .transformed import transformed_query

__all__ = [
    "encode_json", "parse_json_body", "writes_as_stdlib", "build_meta", "value_type",
    "annotation", "column_formatter", "compact", "format_time", "format_value", "shape_rows",
    "transformed_query",
]
