"""Where Engine.load's time goes: cProfile on one bench query, grouped by package.

    .venv/bin/python bench/hotspots.py --rows 10m                         # small_one_hour
    .venv/bin/python bench/hotspots.py --rows 10m --query high_cardinality_limit_10000 -n 50
    .venv/bin/python bench/hotspots.py --rows 10m --explain string_filters   # query plans
    .venv/bin/python bench/hotspots.py --compile-200 multiplied_join          # compile only

Prints (1) the share of Engine.load's own time per package (engine modules, sqlglot, duckdb's
execute/fetch, json, other), (2) the top functions by own time and by cumulative time.
cProfile slows pure-Python code down (roughly 1.5-2x), so read the shares, not the absolute
figures; bench/run.py's `stages` in the JSON give unprofiled per-step timings.

`--explain NAME` prints DuckDB's EXPLAIN ANALYZE for the ideal SQL, the engine's SQL with its
parameters, and the engine's SQL with literals, to see which operators and columns differ.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import generate  # noqa: E402
import model200  # noqa: E402
from queries import NOW, queries  # noqa: E402


def package_of(filename: str, function: str) -> str:
    if "/engine/" in filename:
        return "engine." + Path(filename).stem
    if "/sqlglot/" in filename:
        return "sqlglot"
    if "duckdb" in function or "DuckDBPyConnection" in function or "duckdb" in filename:
        return "duckdb (execute + fetch)"
    if filename.endswith("json/encoder.py") or filename.endswith("json/__init__.py") or \
            "json" in function:
        return "json"
    if "/dateutil/" in filename or "zoneinfo" in filename:
        return "dates (dateutil/zoneinfo)"
    if "/pydantic" in filename:
        return "pydantic"
    return "other (stdlib, builtins)"


def report(profile: cProfile.Profile, calls: int, top: int) -> None:
    stats = pstats.Stats(profile)
    by_package: dict[str, float] = defaultdict(float)
    total = 0.0
    for (filename, _line, function), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        if function == "<module>" or "hotspots.py" in filename and function != "<lambda>":
            continue
        by_package[package_of(filename, function)] += tottime
        total += tottime
    print(f"\nown time by package ({calls} calls, {total / calls * 1000:.3f} ms per call "
          f"under cProfile):")
    for name, seconds in sorted(by_package.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<32}{seconds / calls * 1000:>9.3f} ms  {100 * seconds / total:5.1f}%")
    for sort in ("tottime", "cumulative"):
        buffer = io.StringIO()
        pstats.Stats(profile, stream=buffer).sort_stats(sort).print_stats(top)
        text = buffer.getvalue()
        print(f"\ntop {top} by {sort}:")
        print(text[text.find("   ncalls"):].rstrip())


def explain(engine, name: str, rows: int) -> None:
    from run import inline_params
    q = next(q for q in queries(rows) if q.name == name)
    text, params = engine.sql(q.cube)["sql"]["sql"]
    for label, sql, values in [("IDEAL", q.ideal, None), ("ENGINE (parameters)", text, params),
                               ("ENGINE (literals)", inline_params(text, params), None)]:
        print(f"===== {label}\n{sql}\n{values or ''}")
        cursor = engine.connection.cursor()
        result = (cursor.execute("EXPLAIN ANALYZE " + sql, values) if values
                  else cursor.execute("EXPLAIN ANALYZE " + sql)).fetchall()
        print(result[0][1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="1m")
    parser.add_argument("--query", default="small_one_hour")
    parser.add_argument("-n", type=int, default=300, help="calls to profile")
    parser.add_argument("--threads", default="1")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--explain", metavar="NAME", help="EXPLAIN ANALYZE the three SQLs")
    parser.add_argument("--compile-200", metavar="NAME",
                        help="profile compile only on the 200-cube model (model200.py query)")
    args = parser.parse_args(argv)

    from engine import Engine

    if args.compile_200:
        from engine.compile.plan import build_plan
        from engine.query import normalize_query
        from engine.compile.sql import compile_plan
        started = time.perf_counter()
        engine = Engine(models=model200.write_model(), database=None, now=NOW)
        print(f"200-cube model loaded in {(time.perf_counter() - started) * 1000:.0f} ms")
        cube_query = model200.COMPILE_QUERIES[args.compile_200]

        def once() -> None:
            query = normalize_query(cube_query, engine.now())
            compile_plan(engine.model, build_plan(engine.model, query), total=bool(query.total))
        for _ in range(20):
            once()
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.n):
            once()
        profile.disable()
        report(profile, args.n, args.top)
        return 0

    rows = generate.parse_rows(args.rows)
    db = generate.database_path(rows)
    if not db.exists():
        generate.generate(rows, db)
    threads = None if args.threads == "none" else int(args.threads)
    engine = Engine(models=BENCH / "model", database=db, now=NOW, threads=threads)
    if args.explain:
        explain(engine, args.explain, rows)
        return 0
    q = next(q for q in queries(rows) if q.name == args.query)
    for _ in range(5):
        engine.load(q.cube)  # warm caches (sqlglot, DuckDB buffers)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(args.n):
        # json.dumps as server.py sends the body: part of an HTTP request's cost
        json.dumps(engine.load(q.cube), ensure_ascii=False)
    profile.disable()
    print(f"query {q.name} on {db.name}, threads={threads}")
    report(profile, args.n, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
