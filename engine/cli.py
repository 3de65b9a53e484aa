"""`duckcube` command line: `duckcube serve` answers Cube's REST API over local models and data.

    duckcube serve                       # shipped cubes/ over the shipped sample data, port 4000
    duckcube serve --models my_cubes --db warehouse.duckdb --port 4001
    duckcube serve --now 2026-11-22T11:10:14Z   # freeze the clock (or DUCKCUBE_NOW=...)

CUBEJS_API_SECRET in the environment turns on Cube's JWT check (HS256).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from .api import Engine, parse_instant
from .errors import ModelError

PROJECT = Path(__file__).resolve().parent.parent


def _default_models() -> Path:
    local = Path("cubes")
    return local if local.is_dir() else PROJECT / "cubes"


def sample_database(anchor_day) -> duckdb.DuckDBPyConnection:
    """The shipped sample data, generated for the week of `anchor_day` so "This week" has rows."""
    spec = importlib.util.spec_from_file_location("duckcube_fixtures",
                                                  PROJECT / "fixtures" / "generate.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    con = duckdb.connect(":memory:")
    module.create_tables(con, anchor_day)
    return con


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="duckcube", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve Cube's REST API")
    serve.add_argument("--models", type=Path, default=None,
                       help="directory of Cube YAML models (default: ./cubes)")
    serve.add_argument("--db", default=None,
                       help="DuckDB file (read-only) or directory of Parquet/CSV files; "
                            "default: the shipped sample data, dated around today")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=4000)
    serve.add_argument("--now", default=os.environ.get("DUCKCUBE_NOW"),
                       help="ISO-8601 instant that relative date ranges resolve against")
    args = parser.parse_args(argv)

    now = parse_instant(args.now) if args.now else None
    try:
        database = args.db if args.db else sample_database(
            (now or datetime.now(timezone.utc)).date())
        engine = Engine(models=args.models or _default_models(), database=database, now=now)
    except ModelError as exc:
        print(f"duckcube: {exc}", file=sys.stderr)
        return 2

    from server import create_app  # the web layer is only needed to serve
    import waitress

    secret = os.environ.get("CUBEJS_API_SECRET")
    app = create_app(engine, api_secret=secret)
    print(f"duckcube: serving {len(engine.model.cubes)} cubes on http://{args.host}:{args.port}"
          f"/cubejs-api/v1 ({'JWT required' if secret else 'no auth: CUBEJS_API_SECRET unset'})",
          flush=True)
    waitress.serve(app, host=args.host, port=args.port, threads=8, _quiet=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
