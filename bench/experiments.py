"""Evidence for the findings: each experiment times one change to the engine's SQL (or one
client-side cost) against the unchanged form, interleaved, on the benchmark data.

    .venv/bin/python bench/experiments.py --rows 10m             # all experiments
    .venv/bin/python bench/experiments.py --rows 10m --only count_pk,ilike_escape

Each experiment prints p50 / p90 ms per variant and the ratio to the first variant. The
variants are written by hand from the engine's SQL as `Engine.sql` returns it today (shown
with --show-sql), so when the engine changes, rerun bench/run.py first.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import generate  # noqa: E402
from queries import NOW, queries  # noqa: E402
from run import inline_params, percentile, raw  # noqa: E402


def measure(variants: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    names = list(variants)
    samples: dict[str, list[float]] = {n: [] for n in names}
    for n in names:
        variants[n]()  # warm-up
    for r in range(repeats):
        for n in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            variants[n]()
            samples[n].append(time.perf_counter() - start)
    return samples


def show(title: str, samples: dict[str, list[float]], sql: dict[str, str] | None = None) -> dict:
    print(f"\n## {title}")
    base = percentile(samples[next(iter(samples))], 50)
    out = {}
    for name, values in samples.items():
        p50, p90 = percentile(values, 50) * 1000, percentile(values, 90) * 1000
        out[name] = {"p50": round(p50, 4), "p90": round(p90, 4)}
        print(f"  {name:<58} p50 {p50:9.3f} ms  p90 {p90:9.3f} ms  {p50 / base / 1000:5.2f}x")
        if sql and name in sql:
            print(f"      {sql[name]}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="10m")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--only", default=None)
    parser.add_argument("--show-sql", action="store_true")
    args = parser.parse_args(argv)

    from engine import Engine

    rows = generate.parse_rows(args.rows)
    engine = Engine(models=BENCH / "model", database=generate.database_path(rows), now=NOW)
    con = engine.connection
    bench = {q.name: q for q in queries(rows)}

    def engine_sql(name: str) -> tuple[str, list]:
        text, params = engine.sql(bench[name].cube)["sql"]["sql"]
        return text, params

    only = set(args.only.split(",")) if args.only else None
    results: dict[str, Any] = {}

    def want(name: str) -> bool:
        return only is None or name in only

    # 1. COUNT(<primary key>) vs COUNT(*): DuckDB rewrites count(pk) to count_star() when the
    #    column's statistics show no NULLs, but still scans the pk column (a 36-char UUID text).
    if want("count_pk"):
        for name in ("count_by_day_month", "small_one_hour", "high_cardinality_limit_10000",
                     "measure_filter"):
            text, params = engine_sql(name)
            literal = inline_params(text, params)
            star = literal.replace('COUNT("tracked_events".event_id)', "COUNT(*)")
            sql = {"engine SQL, literals (COUNT(pk))": literal, "same with COUNT(*)": star,
                   "ideal": bench[name].ideal}
            samples = measure({k: (lambda s=s: raw(con, s)) for k, s in sql.items()}, args.repeats)
            results[f"count_pk/{name}"] = show(f"count_pk: {name}", samples,
                                               sql if args.show_sql else None)

    # 1b. A filtered count measure (pageViewsCount): COUNT(CASE WHEN cond THEN pk END) scans and
    #     materialises the pk for every row; COUNT(*) FILTER (WHERE cond) does not.
    if want("filtered_count"):
        text, params = engine_sql("top_pages_this_year")
        literal = inline_params(text, params)
        case = """COUNT(CASE WHEN ("tracked_events".event_name = 'page_view') THEN "tracked_events".event_id END)"""
        assert case in literal, "engine SQL changed: update experiment"
        sql = {"engine SQL, literals (COUNT(CASE .. THEN pk END))": literal,
               "COUNT(CASE .. THEN 1 END)": literal.replace(
                   case, """COUNT(CASE WHEN ("tracked_events".event_name = 'page_view') THEN 1 END)"""),
               "COUNT(*) FILTER (WHERE ..)": literal.replace(
                   case, """COUNT(*) FILTER (WHERE "tracked_events".event_name = 'page_view')"""),
               "ideal": bench["top_pages_this_year"].ideal}
        samples = measure({k: (lambda s=s: raw(con, s)) for k, s in sql.items()}, args.repeats)
        results["filtered_count"] = show("filtered_count: top_pages_this_year", samples,
                                         sql if args.show_sql else None)

    # 2. contains: ILIKE '%' || $1 || '%' ESCAPE '\' (ilike_escape, no fast path) vs plain ILIKE
    #    of a literal pattern (the value has no % _ \ to escape) vs contains(lower(..)).
    if want("ilike_escape"):
        text, params = engine_sql("string_filters")
        literal = inline_params(text, params)
        plain = literal.replace(
            """("tracked_events".page_urlpath) ILIKE '%' || 'articles/12' || '%' ESCAPE '\\'""",
            """("tracked_events".page_urlpath) ILIKE '%articles/12%'""")
        lowered = literal.replace(
            """("tracked_events".page_urlpath) ILIKE '%' || 'articles/12' || '%' ESCAPE '\\'""",
            """contains(lower("tracked_events".page_urlpath), 'articles/12')""")
        assert plain != literal and lowered != literal, "engine SQL changed: update experiment"
        star_plain = plain.replace('COUNT("tracked_events".event_id)', "COUNT(*)")
        sql = {"engine SQL, parameters": text, "engine SQL, literals": literal,
               "ILIKE '%articles/12%' (no ESCAPE)": plain,
               "contains(lower(col), 'articles/12')": lowered,
               "no ESCAPE + COUNT(*)": star_plain, "ideal": bench["string_filters"].ideal}
        variants = {k: (lambda s=s: raw(con, s)) for k, s in sql.items()}
        variants["engine SQL, parameters"] = lambda: raw(con, text, params)
        samples = measure(variants, args.repeats)
        results["ilike_escape"] = show("ilike_escape: string_filters", samples,
                                       sql if args.show_sql else None)

    # 3. Local time: the engine's constant-offset form (the zone keeps one UTC offset over the
    #    whole range, as here: EDT) vs TIMEZONE(zone, ts::TIMESTAMPTZ) per row, as Cube writes it.
    if want("timezone_param"):
        text, params = engine_sql("count_by_day_month_ny")
        literal = inline_params(text, params)
        per_row = literal.replace(
            """CAST("tracked_events".derived_tstamp AS TIMESTAMP) + CAST('-14400 seconds' AS INTERVAL)""",
            """TIMEZONE('America/New_York', CAST("tracked_events".derived_tstamp AS TIMESTAMPTZ))""")
        assert per_row != literal, "engine SQL changed: update experiment"
        variants = {"engine SQL, parameters": lambda: raw(con, text, params),
                    "engine SQL, literals": lambda: raw(con, literal),
                    "per-row TIMEZONE(zone, ts::TIMESTAMPTZ)": lambda: raw(con, per_row),
                    "ideal (ts - INTERVAL 4 HOUR)": lambda: raw(con, bench["count_by_day_month_ny"].ideal)}
        results["timezone_param"] = show("timezone_param: count_by_day_month_ny",
                                         measure(variants, args.repeats))

    # 4. The DuckDB Python client's cost per execute with parameters: it tries `import pandas`
    #    twice per parameter value (a failed import walks sys.path when pandas is absent).
    if want("param_binding"):
        text, params = engine_sql("small_one_hour")
        literal = inline_params(text, params)
        tiny = ("SELECT ? AS a, CAST(? AS TIMESTAMP) AS b, ? AS c", ["x", "2026-01-01", 3])
        tiny_literal = "SELECT 'x' AS a, CAST('2026-01-01' AS TIMESTAMP) AS b, 3 AS c"
        variants = {
            "SELECT 3 literals": lambda: raw(con, tiny_literal),
            "SELECT 3 parameters": lambda: raw(con, *tiny),
            "small_one_hour engine SQL, literals": lambda: raw(con, literal),
            "small_one_hour engine SQL, parameters": lambda: raw(con, text, params),
        }
        results["param_binding"] = show("param_binding", measure(variants, args.repeats * 20))
        blocked = "pandas" not in sys.modules
        if blocked:
            sys.modules["pandas"] = None  # type: ignore[assignment]  # import fails at once
            results["param_binding_no_pandas_lookup"] = show(
                "param_binding with sys.modules['pandas'] = None (failed import short-circuited)",
                measure(variants, args.repeats * 20))
            del sys.modules["pandas"]

    # 5. Result shaping and JSON for the 10,000-row answer.
    if want("shaping"):
        from engine.respond.rows import shape_rows
        from engine.compile.plan import build_plan
        from engine.query import normalize_query
        q = bench["high_cardinality_limit_10000"]
        query = normalize_query(q.cube, engine.now())
        plan = build_plan(engine.model, query)
        text, params = engine_sql(q.name)
        rows_ = raw(con, text, params)
        body = engine.load(q.cube)
        keys = [c.key for c in plan.columns]
        variants = {
            "execute + fetchall (engine SQL)": lambda: raw(con, text, params),
            "shape_rows (10,000 x 2 cells)": lambda: shape_rows(plan, rows_),
            "json.dumps(body, ensure_ascii=False)": lambda: json.dumps(body, ensure_ascii=False),
            "json.dumps(body) (ensure_ascii default)": lambda: json.dumps(body),
            "dict(zip(keys, row)) per row, no value formatting":
                lambda: [dict(zip(keys, row)) for row in rows_],
            "execute with CAST(.. AS VARCHAR) in SQL (DuckDB formats the values)":
                lambda: raw(con, f"SELECT CAST(c0 AS VARCHAR), CAST(c1 AS VARCHAR) FROM ("
                                 f"{inline_params(text, params)}) t(c0, c1)"),
        }
        results["shaping"] = show("shaping: high_cardinality_limit_10000",
                                  measure(variants, args.repeats))

    out = BENCH / "results" / f"experiments_{generate.rows_label(rows)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    merged = json.loads(out.read_text()) if out.exists() else {}  # --only keeps earlier results
    merged.update(results)
    out.write_text(json.dumps(merged, indent=1) + "\n")
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
