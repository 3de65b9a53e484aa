"""Benchmark data: a Snowplow-like tracked-events table at 1M / 10M / 100M rows, in DuckDB SQL.

    .venv/bin/python bench/generate.py --rows 10m          # -> bench/data/events_10m.duckdb
    .venv/bin/python bench/generate.py --rows 1m --force   # rebuild even if the file exists

Tables (the model in bench/model/ reads them):

* ``snowplow_events``: one row per event, columns named as in the shipped GitLab cube
  (cubes/tracked_events.yml) -- event_id (UUID text), event, event_name, derived_tstamp
  (TIMESTAMP, UTC, millisecond precision), user_id, user_id_type, domain_sessionid,
  page_urlhost, page_urlpath, page_title, page_referrer, agent_name, os_name, br_lang, plus
  duration_ms (INTEGER) and is_bot (BOOLEAN).
* ``users``: one row per known (cookie / identified) visitor: user_id, plan, country,
  created_at. Anonymous ``pageview`` ids have no row, so a LEFT JOIN leaves them NULL.

Shape, chosen to look like a product-analytics project:

* Time runs from 2025-01-01 to 2026-11-23 11:59 UTC (the benchmark's frozen "now" is
  2026-11-23T12:00:00Z), rows appended in time order (jitter of under a minute), as an
  append-only event table is: DuckDB's per-row-group min/max can then skip row groups.
* ``page_urlpath``: 70% of events on 30 popular pages (skewed), 30% on a long tail of up to
  200,000 ``/docs/articles/<n>`` pages (the high-cardinality dimension).
* ``user_id``: rows/20 known visitors with a skewed activity (a few very active ones), 1 in 5 of
  them identified (``user-<n>``), the rest cookie ids (``c-<n>``); 10% of events come from
  anonymous visitors with a fresh id per event (``pv-<row>``), as GitLab's non-consenting ones.

Every column is a function of the row number through DuckDB's ``hash()``: no Python loop, no
randomness, same DuckDB version -> same data. The table is written in chunks of ~1M rows (the
progress bar advances per chunk) into ``<file>.tmp`` and renamed when complete, so a file named
``events_<rows>.duckdb`` is always whole.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import duckdb

BENCH = Path(__file__).resolve().parent
DATA = BENCH / "data"

START = "2025-01-01 00:00:00"
END = "2026-11-23 11:59:00"       # last event; the benchmark freezes now at 2026-11-23T12:00Z
CHUNK = 1_000_000

TOP_PAGES = [
    "/", "/pricing", "/features", "/docs", "/signup", "/login", "/blog", "/about",
    "/features/dashboards", "/features/funnels", "/docs/getting-started", "/docs/install",
    "/docs/api", "/docs/api/load", "/docs/guides/segments", "/docs/guides/dashboards",
    "/docs/faq", "/blog/introducing-duckcube", "/blog/product-analytics-101", "/contact",
    "/careers", "/security", "/status", "/changelog", "/integrations", "/integrations/gitlab",
    "/customers", "/partners", "/legal/terms", "/legal/privacy",
]
HOSTS = ["example.com", "docs.example.com", "staging.example.com"]
REFERRERS = ["https://www.google.com/", "https://news.ycombinator.com/", "https://gitlab.com/",
             "https://example.com/", "https://duckduckgo.com/"]
AGENTS = ["Chrome", "Firefox", "Safari", "Edge", "Opera"]
OSES = ["Windows", "Mac OS X", "Linux", "Android", "iOS"]
LANGS = ["en-US", "en-GB", "de-DE", "fr-FR", "ja-JP", "pt-BR", "es-ES"]
PLANS = ["free", "premium", "ultimate"]
COUNTRIES = ["US", "DE", "FR", "GB", "JP", "BR", "IN", "NL", "CA", "ES"]


def parse_rows(text: str) -> int:
    """`1m`, `10M`, `100m`, `250k` or a plain integer."""
    text = text.strip().lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * factor)


def rows_label(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}m"
    if rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return str(rows)


def database_path(rows: int) -> Path:
    return DATA / f"events_{rows_label(rows)}.duckdb"


def _list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: list[str], seed: str, skew: bool = False, var: str = "i") -> str:
    """SQL picking one of `values` from the hash of column `var` (uniform, or skewed towards
    the first values)."""
    u = f"((hash({var}, '{seed}') % 1000000) / 1000000.0)"
    index = f"CAST(floor({len(values)} * {u} * {u}) AS BIGINT)" if skew else \
        f"CAST(hash({var}, '{seed}') % {len(values)} AS BIGINT)"
    return f"{_list(values)}[{index} + 1]"


def events_select(rows: int) -> str:
    """SELECT producing rows `i` of `range(lo, hi)` (filled in per chunk) of snowplow_events."""
    users = max(1_000, rows // 20)
    # Skewed visitor activity: index = users * u^2 (u uniform in [0,1)), so low indices are busy.
    visitor = f"CAST(floor({users} * pow((hash(i, 'user') % 1000000) / 1000000.0, 2)) AS BIGINT)"
    anonymous = "(hash(i, 'anon') % 10 = 0)"
    kind = "(hash(i, 'kind') % 100)"
    tail_pages = min(200_000, max(1_000, rows // 5))
    path = (f"CASE WHEN hash(i, 'tail') % 100 < 30 "
            f"THEN '/docs/articles/' || CAST(hash(i, 'page') % {tail_pages} AS VARCHAR) "
            f"ELSE {_pick(TOP_PAGES, 'top', skew=True)} END")
    span_us = f"(epoch_us(TIMESTAMP '{END}') - epoch_us(TIMESTAMP '{START}'))"
    # Evenly spread in row order, minus up to 59.999 s of jitter, truncated to milliseconds.
    micros = (f"epoch_us(TIMESTAMP '{START}') + CAST(i AS HUGEINT) * {span_us} // {rows} "
              f"- (hash(i, 'jitter') % 60000) * 1000")
    return f"""
    SELECT
        md5('event-' || CAST(i AS VARCHAR))::UUID::VARCHAR AS event_id,
        CASE WHEN k < 45 THEN 'page_view' WHEN k < 80 THEN 'page_ping' ELSE 'unstruct' END
            AS event,
        CASE WHEN k < 45 THEN 'page_view' WHEN k < 80 THEN 'page_ping'
             WHEN k < 90 THEN 'link_click' ELSE 'custom_event' END AS event_name,
        make_timestamp(CAST(greatest(micros, epoch_us(TIMESTAMP '{START}')) // 1000 * 1000
                            AS BIGINT)) AS derived_tstamp,
        CASE WHEN anonymous THEN 'pv-' || CAST(i AS VARCHAR)
             WHEN visitor % 5 = 0 THEN 'user-' || CAST(visitor AS VARCHAR)
             ELSE 'c-' || CAST(visitor AS VARCHAR) END AS user_id,
        CASE WHEN anonymous THEN 'pageview' WHEN visitor % 5 = 0 THEN 'identify'
             ELSE 'cookie' END AS user_id_type,
        's-' || CAST(CASE WHEN anonymous THEN i ELSE visitor * 1000 + i // 200000 END
                     AS VARCHAR) AS domain_sessionid,
        CASE WHEN path LIKE '/docs%' THEN 'docs.example.com'
             ELSE {_pick(HOSTS[::2], 'host', skew=True)} END AS page_urlhost,
        path AS page_urlpath,
        CASE WHEN path LIKE '/docs/articles/%' THEN 'Article ' || substr(path, 16)
             ELSE 'Example - ' || path END AS page_title,
        CASE WHEN hash(i, 'ref') % 3 = 0 THEN NULL ELSE {_pick(REFERRERS, 'ref2')} END
            AS page_referrer,
        {_pick(AGENTS, 'agent', skew=True)} AS agent_name,
        {_pick(OSES, 'os', skew=True)} AS os_name,
        {_pick(LANGS, 'lang', skew=True)} AS br_lang,
        CAST(hash(i, 'duration') % 120000 AS INTEGER) AS duration_ms,
        hash(i, 'bot') % 50 = 0 AS is_bot
    FROM (
        SELECT i, {kind} AS k, {anonymous} AS anonymous, {visitor} AS visitor, {path} AS path,
               {micros} AS micros
        FROM range($lo, $hi) t(i)
    )
    """


def users_select(rows: int) -> str:
    users = max(1_000, rows // 20)
    return f"""
    SELECT
        CASE WHEN n % 5 = 0 THEN 'user-' ELSE 'c-' END || CAST(n AS VARCHAR) AS user_id,
        {_pick(PLANS, 'plan', skew=True, var='n')} AS plan,
        {_pick(COUNTRIES, 'country', skew=True, var='n')} AS country,
        TIMESTAMP '2023-01-01' + to_seconds(CAST(hash(n, 'created') % 60000000 AS BIGINT))
            AS created_at
    FROM range({users}) t(n)
    """


def progress(done: int, total: int, started: float) -> None:
    elapsed = time.monotonic() - started
    fraction = done / total
    bar = "#" * int(30 * fraction)
    eta = elapsed / fraction - elapsed if fraction else 0
    sys.stderr.write(f"\r  snowplow_events [{bar:<30}] {done:>12,}/{total:,} rows "
                     f"{elapsed:6.1f}s elapsed, ~{eta:5.0f}s left")
    sys.stderr.flush()


def generate(rows: int, path: Path, force: bool = False) -> Path:
    if path.exists() and not force:
        print(f"{path} exists (use --force to rebuild)")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".duckdb.tmp")
    for stale in (tmp, Path(str(tmp) + ".wal")):
        if stale.exists():
            stale.unlink()
    con = duckdb.connect(str(tmp))
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    print(f"generating {rows:,} events into {path}")
    started = time.monotonic()
    select = events_select(rows)
    con.execute(f"CREATE TABLE snowplow_events AS {select.replace('$lo', '0').replace('$hi', '0')}")
    insert = f"INSERT INTO snowplow_events {select}"
    for lo in range(0, rows, CHUNK):
        hi = min(rows, lo + CHUNK)
        con.execute(insert.replace("$lo", str(lo)).replace("$hi", str(hi)))
        progress(hi, rows, started)
    sys.stderr.write("\n")
    con.execute(f"CREATE TABLE users AS {users_select(rows)}")
    con.execute("CHECKPOINT")
    count, low, high = con.execute(
        "SELECT count(*), min(derived_tstamp), max(derived_tstamp) FROM snowplow_events").fetchone()
    users = con.execute("SELECT count(*) FROM users").fetchone()[0]
    con.close()
    os.replace(tmp, path)
    size = path.stat().st_size / 2**20
    print(f"done in {time.monotonic() - started:.1f}s: {count:,} events {low} .. {high}, "
          f"{users:,} users, {size:,.0f} MiB")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="1m", help="1m, 10m, 100m (or any count; k/m suffix)")
    parser.add_argument("--out", type=Path, default=None,
                        help="database file (default bench/data/events_<rows>.duckdb)")
    parser.add_argument("--force", action="store_true", help="rebuild an existing file")
    args = parser.parse_args(argv)
    rows = parse_rows(args.rows)
    generate(rows, args.out or database_path(rows), args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
