"""The duckcube benchmark: the engine against raw DuckDB, in one command.

    .venv/bin/python bench/run.py --rows 10m              # generates bench/data/events_10m.duckdb
    .venv/bin/python bench/run.py --rows 1m --quick       # a fast smoke run (fewer repeats)

What it measures (see bench/README.md for the columns), all against the same DuckDB file:

  ideal     raw DuckDB running the hand-written ideal SQL (bench/queries.py): the physical limit
  eng_sql   raw DuckDB running the engine's own SQL and parameters (Engine.sql): gap = SQL shape
  eng_lit   the engine's SQL with its parameters inlined as literals: gap to eng_sql = the cost
            of binding parameters (e.g. a plan DuckDB cannot specialise for `LIMIT $3`)
  load      Engine.load end to end (normalize, plan, compile, execute, shape the body)
  http      POST /cubejs-api/v1/load on `duckcube serve` (waitress), sequential and with 8
            concurrent clients
  compile   normalize + plan + compile, no execution, on the bench model and on a generated
            200-cube model; /meta; peak RSS of the embedded process and of the server

(a) ideal, (b) eng_sql, eng_lit and (c) load run interleaved in one process (round-robin, the
variant order rotating every round), once per DuckDB threads setting: threads=1 (the engine's
default: deterministic tie order) and threads=None (DuckDB's default, one per core). Raw DuckDB
always runs on a cursor of the engine's own connection, so both share the database instance,
its buffer cache and its threads setting. Every variant's answers are checked against the ideal
SQL's. Results: a table on stdout, everything in bench/results/<rows>.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import random
import re
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

import duckdb  # noqa: E402

import generate  # noqa: E402
import model200  # noqa: E402
from queries import NOW, BenchQuery, queries  # noqa: E402

MODEL = BENCH / "model"
RESULTS = BENCH / "results"
API = "/cubejs-api/v1"
VARIANTS = ["ideal", "eng_sql", "eng_lit", "load", "cold"]


# --- statistics -----------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """Linear-interpolated percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"p50": round(percentile(ms, 50), 4), "p90": round(percentile(ms, 90), 4),
            "min": round(min(ms), 4) if ms else None, "n": len(ms)}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# --- answers ----------------------------------------------------------------------------------------

def _norm(value: Any, numeric: bool) -> Any:
    """One value as comparable: numbers as floats, times as Cube prints them."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, date):
        return value.strftime("%Y-%m-%dT00:00:00.000")
    if numeric and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def normalize_rows(rows: list, numeric: list[bool]) -> list[tuple]:
    return [tuple(_norm(v, n) for v, n in zip(row, numeric)) for row in rows]


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def compare(expected: list[tuple], got: list[tuple], ordered: bool) -> str:
    """'same', 'same rows, other order' or 'DIFFERENT: ...'."""
    def same(xs: list[tuple], ys: list[tuple]) -> bool:
        return len(xs) == len(ys) and all(
            len(x) == len(y) and all(_close(a, b) for a, b in zip(x, y)) for x, y in zip(xs, ys))
    if same(expected, got):
        return "same"
    key = lambda row: tuple((v is None, str(v)) for v in row)  # noqa: E731
    if same(sorted(expected, key=key), sorted(got, key=key)):
        return "same rows, other order" if ordered else "same"
    first = next((i for i, (x, y) in enumerate(zip(expected, got)) if x != y),
                 min(len(expected), len(got)))
    return (f"DIFFERENT: {len(expected)} vs {len(got)} rows, first difference at row {first}: "
            f"{expected[first] if first < len(expected) else None} vs "
            f"{got[first] if first < len(got) else None}")


# --- the engine's SQL ---------------------------------------------------------------------------

def sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float, Decimal)):
        return repr(value) if isinstance(value, float) else str(value)
    return "'" + str(value).replace("'", "''") + "'"


def inline_params(text: str, params: list) -> str:
    """The engine's SQL with `$n` / `?` placeholders replaced by literals (same text otherwise)."""
    if re.search(r"\$\d+", text):
        return re.sub(r"\$(\d+)", lambda m: sql_literal(params[int(m.group(1)) - 1]), text)
    values = iter(params)
    return re.sub(r"\?", lambda m: sql_literal(next(values)), text)


def raw(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    """What the engine's execute step does: a fresh cursor, execute, fetchall."""
    cursor = con.cursor()
    try:
        return (cursor.execute(sql, params) if params is not None else cursor.execute(sql)).fetchall()
    finally:
        cursor.close()


# --- worker: embedded measurements (one process per threads setting) -------------------------------

def worker_embedded(args: argparse.Namespace) -> dict:
    from engine import Engine
    from engine.query import normalize_query
    from engine.compile.plan import build_plan
    from engine.compile.sql import compile_plan

    threads = None if args.threads == "none" else int(args.threads)
    rows = generate.parse_rows(args.rows)
    started = time.perf_counter()
    engine = Engine(models=MODEL, database=args.db, now=NOW, threads=threads)
    engine_init_ms = (time.perf_counter() - started) * 1000
    con = engine.connection
    # The same engine without its compile cache, on the same connection: what a query costs the
    # first time it is asked (plan and SQL built afresh), where `load` repeats a cached compile.
    cold_engine = Engine(models=engine.model, database=con, now=NOW, threads=threads,
                         compile_cache=0)
    keys_not_null = engine.keys_not_null()
    duckdb_threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    bench = queries(rows)
    if args.only:
        bench = [q for q in bench if q.name in args.only.split(",")]

    prepared = []
    for q in bench:
        body = engine.sql(q.cube)["sql"]  # {"sql": [text, params], "aliasNameToMember": ...}
        text, params = body["sql"]
        keys = list(body["aliasNameToMember"].values())
        prepared.append({"q": q, "text": text, "params": params,
                         "literal": inline_params(text, params),
                         "index": [keys.index(c) for c in q.columns]})

    def variants(p: dict) -> dict[str, Callable[[], Any]]:
        q: BenchQuery = p["q"]
        return {
            "ideal": lambda: raw(con, q.ideal),
            "eng_sql": lambda: raw(con, p["text"], p["params"]),
            "eng_lit": lambda: raw(con, p["literal"]),
            "load": lambda: engine.load(q.cube),
            "cold": lambda: cold_engine.load(q.cube),
        }

    out: dict[str, Any] = {"threads": threads, "duckdb_threads": duckdb_threads,
                           "engine_init_ms": round(engine_init_ms, 2), "queries": {}}

    # Warm-up round, answers check.
    for p in prepared:
        q = p["q"]
        fns = variants(p)
        annotation_types = {}
        loaded = fns["load"]()
        for section in ("measures", "dimensions", "timeDimensions"):
            for key, item in loaded["annotation"][section].items():
                annotation_types[key] = "number" if section == "measures" else item.get("type")
        numeric = [annotation_types.get(c) == "number" for c in q.columns]
        ideal = normalize_rows(fns["ideal"](), numeric)
        eng_rows = [tuple(r[i] for i in p["index"]) for r in fns["eng_sql"]()]
        lit_rows = [tuple(r[i] for i in p["index"]) for r in fns["eng_lit"]()]
        data = loaded["data"]
        load_rows = [tuple(row.get(c) for c in q.columns) for row in data]
        cold_rows = [tuple(row.get(c) for c in q.columns) for row in fns["cold"]()["data"]]
        out["queries"][q.name] = {
            "question": q.question, "cube": q.cube, "ideal_sql": q.ideal,
            "engine_sql": p["text"], "engine_params": p["params"], "result_rows": len(ideal),
            "answers": {
                "eng_sql": compare(ideal, normalize_rows(eng_rows, numeric), q.ordered),
                "eng_lit": compare(ideal, normalize_rows(lit_rows, numeric), q.ordered),
                "load": compare(ideal, normalize_rows(load_rows, numeric), q.ordered),
                "cold": compare(ideal, normalize_rows(cold_rows, numeric), q.ordered),
            },
            "samples": {v: [] for v in VARIANTS},
        }
        log(f"  [threads={threads}] {q.name}: {len(ideal)} rows, answers "
            f"{out['queries'][q.name]['answers']}")

    # Interleaved rounds: every query, every variant, the variant order rotating per round.
    spent = {p["q"].name: 0.0 for p in prepared}
    for round_ in range(args.repeats):
        active = [p for p in prepared
                  if round_ < args.min_repeats or spent[p["q"].name] < args.budget]
        if not active:
            break
        for p in active:
            fns = variants(p)
            shift = round_ % len(VARIANTS)
            order = VARIANTS[shift:] + VARIANTS[:shift]
            for v in order:
                seconds, _ = timed(fns[v])
                out["queries"][p["q"].name]["samples"][v].append(seconds)
                spent[p["q"].name] += seconds
        log(f"  [threads={threads}] round {round_ + 1}/{args.repeats} "
            f"({len(active)} queries)")

    # Compile only on the bench model, and the stage breakdown of Engine.load.
    for p in prepared:
        q = p["q"]
        entry = out["queries"][q.name]
        compile_samples = []
        for _ in range(args.compile_repeats):
            start = time.perf_counter()
            query = normalize_query(q.cube, engine.now())
            plan = build_plan(engine.model, query)
            compile_plan(engine.model, plan, total=bool(query.total),
                         keys_not_null=keys_not_null)
            compile_samples.append(time.perf_counter() - start)
        entry["compile"] = summary(compile_samples)
        entry["stages"] = stage_breakdown(engine, q, keys_not_null,
                                          repeats=max(3, args.min_repeats))
        entry["timings"] = {v: summary(s) for v, s in entry["samples"].items()}
        entry["samples_ms"] = {v: [round(x * 1000, 3) for x in s]
                               for v, s in entry.pop("samples").items()}
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return out


def stage_breakdown(engine: Any, q: BenchQuery, keys_not_null: frozenset[str],
                    repeats: int) -> dict:
    """p50 of each step Engine.load takes the first time it sees a query (replicating
    Engine._prepare and Engine._result with the engine's own functions, the compile cache left
    out; if those change shape, the breakdown reports the error instead)."""
    try:
        from engine.run.execute import run
        from engine.compile.plan import build_plan
        from engine.query import normalize_query
        from engine.respond.rows import annotation, compact, shape_rows
        from engine.compile.sql import compile_plan
        from engine.respond.bodies import encode_json
        samples: dict[str, list[float]] = {}

        def add(name: str, fn: Callable[[], Any]) -> Any:
            seconds, value = timed(fn)
            samples.setdefault(name, []).append(seconds)
            return value

        for _ in range(repeats):
            query = add("normalize", lambda: normalize_query(q.cube, engine.now()))
            plan = add("plan", lambda: build_plan(engine.model, query))
            compiled = add("compile", lambda: compile_plan(engine.model, plan,
                                                           total=bool(query.total),
                                                           keys_not_null=keys_not_null))
            rows = add("execute", lambda: run(engine.connection, compiled.sql, compiled.params))
            body = add("shape", lambda: {
                "query": query.echo(), "annotation": annotation(plan),
                "data": compact(plan, shape_rows(plan, rows), query.response_format)})
            add("json_dumps", lambda: encode_json(body))
        return {name: summary(values)["p50"] for name, values in samples.items()}
    except Exception as exc:  # the engine is being edited: never fail the run for this
        return {"error": f"{type(exc).__name__}: {exc}"}


# --- worker: compile-only on the 200-cube model -----------------------------------------------------

def worker_compile(args: argparse.Namespace) -> dict:
    from engine import Engine
    from engine.query import normalize_query
    from engine.compile.plan import build_plan
    from engine.compile.sql import compile_plan

    directory = model200.write_model()
    started = time.perf_counter()
    engine = Engine(models=directory, database=None, now=NOW)
    out: dict[str, Any] = {"cubes": model200.CUBES,
                           "model_load_ms": round((time.perf_counter() - started) * 1000, 1),
                           "queries": {}}
    for name, cube_query in model200.COMPILE_QUERIES.items():
        samples = []
        for i in range(args.compile_repeats + 20):
            start = time.perf_counter()
            query = normalize_query(cube_query, engine.now())
            plan = build_plan(engine.model, query)
            compile_plan(engine.model, plan, total=bool(query.total))
            if i >= 20:  # the first calls warm sqlglot's and the engine's caches
                samples.append(time.perf_counter() - start)
        out["queries"][name] = summary(samples)
    for extended in (False, True):
        samples = [timed(lambda: engine.meta(extended=extended))[0] for _ in range(50)]
        out[f"meta{'_extended' if extended else ''}"] = summary(samples)
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return out


# --- HTTP ---------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LOGS = BENCH / "data" / "logs"


class Server:
    """`duckcube serve` as a subprocess on a free port (waitress; the engine at threads=1).

    Its output goes to bench/data/logs/<name>.log (the server logs one line per request; an
    undrained pipe would block it), which `log_summary` reads back."""

    def __init__(self, models: Path, db: Path, name: str, extra: list[str] | None = None):
        self.port = free_port()
        script = Path(sys.executable).parent / "duckcube"
        command = [str(script)] if script.exists() else [sys.executable, "-m", "engine.cli"]
        self.command = command + ["serve", "--models", str(models), "--db", str(db), "--port",
                                  str(self.port), "--now", NOW] + (extra or [])
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / f"{name}.log"
        self.log_file = open(self.log_path, "w")
        self.process = subprocess.Popen(self.command, cwd=ROOT, stdout=self.log_file,
                                        stderr=subprocess.STDOUT)
        self.started = time.perf_counter()
        deadline = time.monotonic() + 600
        while True:
            if self.process.poll() is not None:
                raise RuntimeError("server exited: " + self.log_path.read_text()[-2000:])
            try:
                status, _ = self.request("GET", "/readyz")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become ready")
            time.sleep(0.05)
        self.startup_ms = (time.perf_counter() - self.started) * 1000

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)

    def request(self, method: str, path: str, body: Any = None,
                conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
        own = conn is None
        conn = conn or self.connection()
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if payload else {}
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            if own:
                conn.close()

    def load(self, cube_query: dict, conn: http.client.HTTPConnection,
             cache: str | None = None) -> tuple[int, bytes, int]:
        """POST /load, asking again on `Continue wait` as Cube's client does; (status, body,
        number of continue-waits)."""
        body: dict[str, Any] = {"query": cube_query}
        if cache:
            body["cache"] = cache
        waits = 0
        while True:
            status, payload = self.request("POST", API + "/load", body, conn=conn)
            if status == 200 and payload.startswith(b'{"error"') and b"Continue wait" in payload:
                waits += 1
                continue
            return status, payload, waits

    def log_summary(self) -> dict:
        """Request counts by cache status, errors, and the server's own per-request timings
        (compile_ms, db_ms, total_ms as it logs them) for /load."""
        counts: dict[str, int] = {}
        timings: dict[str, list[float]] = {"compile_ms": [], "db_ms": [], "total_ms": []}
        errors = 0
        for line in self.log_path.read_text(errors="replace").splitlines():
            if "internal error" in line or line.startswith("Traceback"):
                errors += 1
            if "/load " not in line:
                continue
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            counts[fields.get("cache", "-")] = counts.get(fields.get("cache", "-"), 0) + 1
            for key in timings:
                try:
                    timings[key].append(float(fields[key]) / 1000)
                except (KeyError, ValueError):
                    pass
        return {"log": str(self.log_path), "command": " ".join(self.command[1:]),
                "load_requests_by_cache_status": counts, "errors": errors,
                "logged_p50_ms": {k: summary(v)["p50"] for k, v in timings.items() if v}}

    def peak_rss_mb(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
        except OSError:
            return None
        return None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log_file.close()


def measure_http(args: argparse.Namespace, db: Path) -> dict:
    rows = generate.parse_rows(args.rows)
    bench = queries(rows)
    if args.only:
        bench = [q for q in bench if q.name in args.only.split(",")]
    log("HTTP: starting duckcube serve --no-cache")
    # The result cache off: every request runs its query, as raw DuckDB does. (Cache hits are
    # measured on a second, default server below.)
    server = Server(MODEL, db, f"serve_{args.rows}_no_cache", ["--no-cache"])
    # Raw DuckDB in this process, on the same file, same settings as the server's engine.
    con = duckdb.connect(str(db), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET threads = 1")
    out: dict[str, Any] = {"server_startup_ms": round(server.startup_ms, 1),
                           "server_command": " ".join(server.command[1:]), "queries": {}}
    continue_waits = 0
    try:
        conn = server.connection()
        # Floor of the HTTP stack: a route that does no engine work.
        floor = [timed(lambda: server.request("GET", "/readyz", conn=conn))[0]
                 for _ in range(200)]
        out["readyz"] = summary(floor)
        for path in ("/meta", "/meta?extended=true"):
            samples = [timed(lambda: server.request("GET", API + path, conn=conn))[0]
                       for _ in range(50)]
            out["meta_extended" if "extended" in path else "meta"] = summary(samples)

        # Sequential, interleaved with raw DuckDB running the ideal SQL.
        for q in bench:
            status, payload, waits = server.load(q.cube, conn)
            continue_waits += waits
            body = json.loads(payload)
            ok = status == 200 and "data" in body
            answer = f"HTTP {status}: {str(body)[:300]}" if not ok else None
            if ok:
                types = {}
                for section in ("measures", "dimensions", "timeDimensions"):
                    for key, item in body["annotation"][section].items():
                        types[key] = "number" if section == "measures" else item.get("type")
                numeric = [types.get(c) == "number" for c in q.columns]
                answer = compare(normalize_rows(raw(con, q.ideal), numeric),
                                 normalize_rows([tuple(r.get(c) for c in q.columns)
                                                 for r in body["data"]], numeric), q.ordered)
            out["queries"][q.name] = {"answers": answer, "samples": {"ideal": [], "http": []}}
        spent = {q.name: 0.0 for q in bench}
        for round_ in range(args.http_repeats):
            for q in bench:
                if round_ >= args.min_repeats and spent[q.name] > args.budget:
                    continue
                steps = [("ideal", lambda: raw(con, q.ideal)),
                         ("http", lambda: server.load(q.cube, conn))]
                for name, fn in (steps if round_ % 2 == 0 else steps[::-1]):
                    seconds, value = timed(fn)
                    if name == "http":
                        continue_waits += value[2]
                    out["queries"][q.name]["samples"][name].append(seconds)
                    spent[q.name] += seconds
            log(f"  HTTP sequential round {round_ + 1}/{args.http_repeats}")
        for entry in out["queries"].values():
            entry["timings"] = {k: summary(v) for k, v in entry.pop("samples").items()}
        conn.close()

        # 8 concurrent clients (own keep-alive connection each) vs 8 threads on raw DuckDB
        # cursors, the same workload: every query `concurrent_rounds` times per client.
        log(f"  HTTP {args.clients} concurrent clients")
        out["concurrent"] = {
            "http": concurrent_load(
                bench, args, lambda: server.connection(),
                lambda conn, q: server.load(q.cube, conn)),
            "ideal": concurrent_load(bench, args, lambda: None,
                                     lambda _conn, q: raw(con, q.ideal)),
        }
        out["server_peak_rss_mb"] = server.peak_rss_mb()
    finally:
        server.stop()
        con.close()
    out["continue_waits"] = continue_waits
    out["server_log"] = server.log_summary()

    # The production default: result cache on. Repeats of a query are cache hits.
    log("HTTP: cache hits on the default server (result cache on)")
    cached = Server(MODEL, db, f"serve_{args.rows}_default")
    try:
        conn = cached.connection()
        out["cached"] = {}
        for q in bench:
            cached.load(q.cube, conn)  # the miss that fills the cache
            out["cached"][q.name] = summary([timed(lambda: cached.load(q.cube, conn))[0]
                                             for _ in range(30)])
        conn.close()
    finally:
        cached.stop()
    out["cached_server_log"] = cached.log_summary()

    # /meta on the 200-cube model, served.
    log("HTTP: /meta on the 200-cube model")
    server200 = Server(model200.write_model(), db, "serve_model200")
    try:
        conn = server200.connection()
        out["meta_200_cubes"] = summary([timed(lambda: server200.request(
            "GET", API + "/meta", conn=conn))[0] for _ in range(30)])
        out["meta_200_cubes_extended"] = summary([timed(lambda: server200.request(
            "GET", API + "/meta?extended=true", conn=conn))[0] for _ in range(30)])
        out["server_200_cubes_startup_ms"] = round(server200.startup_ms, 1)
        conn.close()
    finally:
        server200.stop()
    return out


def concurrent_load(bench: list[BenchQuery], args: argparse.Namespace,
                    connect: Callable[[], Any], call: Callable[[Any, BenchQuery], Any]) -> dict:
    clients = args.clients
    latencies: dict[str, list[float]] = {q.name: [] for q in bench}
    lock = threading.Lock()

    def client(index: int) -> None:
        conn = connect()
        work = [q for q in bench for _ in range(args.concurrent_rounds)]
        random.Random(index).shuffle(work)
        for q in work:
            seconds, _ = timed(lambda: call(conn, q))
            with lock:
                latencies[q.name].append(seconds)
        if conn is not None:
            conn.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - start
    total = sum(len(v) for v in latencies.values())
    return {"clients": clients, "requests": total, "wall_s": round(wall, 3),
            "throughput_rps": round(total / wall, 2),
            "queries": {name: summary(values) for name, values in latencies.items()}}


# --- orchestration ------------------------------------------------------------------------------------

def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_worker(mode: str, args: argparse.Namespace, db: Path, threads: str = "1") -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", mode, "--rows",
               args.rows, "--db", str(db), "--threads", threads,
               "--repeats", str(args.repeats), "--min-repeats", str(args.min_repeats),
               "--budget", str(args.budget), "--compile-repeats", str(args.compile_repeats)]
    if args.only:
        command += ["--only", args.only]
    result = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"worker {mode} (threads={threads}) failed")
    return json.loads(result.stdout)


def engine_fingerprint() -> str:
    """A hash of the engine's source (engine/*.py, server.py): which code a result belongs to."""
    import hashlib
    digest = hashlib.sha256()
    for path in sorted((ROOT / "engine").glob("*.py")) + [ROOT / "server.py"]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def machine_load() -> dict:
    """Load average and CPU pressure: other processes on the machine skew the figures."""
    out: dict[str, Any] = {"loadavg": os.getloadavg()}
    try:
        out["cpu_pressure"] = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        pass
    return out


def environment() -> dict:
    def git(*argv: str) -> str:
        try:
            return subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except OSError:
            return ""
    return {
        "python": platform.python_version(), "duckdb": duckdb.__version__,
        "machine": platform.machine(), "cpus": os.cpu_count(), "platform": platform.platform(),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty_files": len([l for l in git("status", "--porcelain").splitlines() if l]),
        "engine_source_sha256": engine_fingerprint(),
        "machine_load_at_start": machine_load(),
        "time": datetime.now().isoformat(timespec="seconds"),
    }


def fmt(ms: float | None) -> str:
    if ms is None or (isinstance(ms, float) and math.isnan(ms)):
        return "-"
    return f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "-"
    return f"{a / b:.2f}x"


def print_report(result: dict) -> None:
    print()
    env = result["environment"]
    print(f"duckcube benchmark, {result['rows_label']} rows ({result['rows']:,}), "
          f"{env['cpus']} CPUs, duckdb {env['duckdb']}, engine source {env['engine_source_sha256']}"
          f", load average at start/end {env['machine_load_at_start']['loadavg'][0]:.1f}/"
          f"{env.get('machine_load_at_end', {}).get('loadavg', [math.nan])[0]:.1f}")
    print("times are p50 ms (p90 in the JSON); ratios are against raw DuckDB running the ideal "
          "SQL in the same process and run")
    for mode in result["embedded"]:
        emb = result["embedded"][mode]
        http = result.get("http") if mode == "threads=1" else None
        print()
        print(f"== embedded, {mode} (DuckDB threads setting: {emb['duckdb_threads']})"
              + ("; HTTP: duckcube serve (engine threads=1)" if http else ""))
        header = (f"{'query':<29}{'rows':>6}{'ideal':>8}{'eng_sql':>8}{'x':>6}{'eng_lit':>8}"
                  f"{'x':>6}{'load':>8}{'x':>6}{'+ms':>7}{'cold':>8}{'+ms':>7}{'fixed':>7}")
        if http:
            header += f"{'http':>8}{'x':>6}{'http8':>8}{'cached':>8}"
        header += "  answers"
        print(header)
        for name, entry in emb["queries"].items():
            t = entry["timings"]
            ideal, sql, lit, load, cold = (t[v]["p50"] for v in VARIANTS)
            stages = entry.get("stages", {})
            fixed = sum(v for k, v in stages.items() if k not in ("execute", "json_dumps")) \
                if "error" not in stages else None
            line = (f"{name:<29}{entry['result_rows']:>6}{fmt(ideal):>8}{fmt(sql):>8}"
                    f"{ratio(sql, ideal):>6}{fmt(lit):>8}{ratio(lit, ideal):>6}{fmt(load):>8}"
                    f"{ratio(load, ideal):>6}{fmt(load - ideal):>7}{fmt(cold):>8}"
                    f"{fmt(cold - ideal):>7}{fmt(fixed):>7}")
            if http:
                h = http["queries"][name]["timings"]
                conc = http["concurrent"]["http"]["queries"][name]["p50"]
                hit = http.get("cached", {}).get(name, {}).get("p50")
                line += (f"{fmt(h['http']['p50']):>8}{ratio(h['http']['p50'], h['ideal']['p50']):>6}"
                         f"{fmt(conc):>8}{fmt(hit):>8}")
            answers = {k: v for k, v in entry["answers"].items()}
            if http:
                answers["http"] = http["queries"][name]["answers"]
            bad = {k: v for k, v in answers.items() if v != "same"}
            line += "  " + ("same" if not bad else "; ".join(f"{k}: {v}" for k, v in bad.items()))
            print(line)
        print(f"peak RSS of the embedded process: {emb['peak_rss_mb']:.0f} MB; "
              f"Engine() construction {emb['engine_init_ms']:.0f} ms")
        if mode == "threads=1":
            print()
            print("   Engine.load step by step, p50 ms (threads=1; a query seen the first time; json_dumps is engine.respond.bodies.encode_json):")
            steps = ["normalize", "plan", "compile", "execute", "shape", "json_dumps"]
            print(f"   {'query':<29}" + "".join(f"{s:>11}" for s in steps))
            for name, entry in emb["queries"].items():
                stages = entry.get("stages", {})
                if "error" in stages:
                    print(f"   {name:<29}{stages['error']}")
                    continue
                print(f"   {name:<29}" + "".join(f"{fmt(stages.get(s)):>11}" for s in steps))
    http = result.get("http")
    if http:
        c = http["concurrent"]
        print()
        print(f"HTTP floor (GET /readyz) p50 {fmt(http['readyz']['p50'])} ms; /meta p50 "
              f"{fmt(http['meta']['p50'])} ms, extended {fmt(http['meta_extended']['p50'])} ms; "
              f"200-cube /meta p50 {fmt(http['meta_200_cubes']['p50'])} ms, extended "
              f"{fmt(http['meta_200_cubes_extended']['p50'])} ms")
        print(f"8 concurrent clients: HTTP {c['http']['throughput_rps']} req/s vs raw DuckDB "
              f"(8 threads, ideal SQL) {c['ideal']['throughput_rps']} req/s "
              f"({c['http']['requests']} requests each); server peak RSS "
              f"{http['server_peak_rss_mb']} MB; startup {http['server_startup_ms']:.0f} ms")
        log_ = http.get("server_log", {})
        print(f"server (--no-cache) log: /load requests by cache status "
              f"{log_.get('load_requests_by_cache_status')}, errors {log_.get('errors')}, "
              f"its own p50 ms {log_.get('logged_p50_ms')}; continue-waits "
              f"{http.get('continue_waits')}")
    comp = result.get("compile_200")
    if comp:
        print()
        print(f"compile only (normalize + plan + compile) on the {comp['cubes']}-cube model "
              f"(model load {comp['model_load_ms']:.0f} ms):")
        for name, s in comp["queries"].items():
            print(f"  {name:<20} p50 {fmt(s['p50'])} ms  p90 {fmt(s['p90'])} ms")
        print(f"  Engine.meta() p50 {fmt(comp['meta']['p50'])} ms, extended "
              f"{fmt(comp['meta_extended']['p50'])} ms")
    print()
    print("targets (issue 8):")
    for line in result["targets"]:
        print("  " + line)


def evaluate_targets(result: dict) -> list[str]:
    lines = []
    emb1 = result["embedded"].get("threads=1")
    if emb1:
        worst = max(((e["timings"]["eng_sql"]["p50"] / e["timings"]["ideal"]["p50"], n)
                     for n, e in emb1["queries"].items()), default=None)
        if worst:
            slow = [f"{n} {e['timings']['eng_sql']['p50'] / e['timings']['ideal']['p50']:.2f}x"
                    for n, e in emb1["queries"].items()
                    if e["timings"]["eng_sql"]["p50"] > 1.1 * e["timings"]["ideal"]["p50"]]
            lines.append(f"[{'MISS' if slow else 'ok'}] engine SQL within 1.1x of ideal "
                         f"(threads=1): worst {worst[1]} {worst[0]:.2f}x"
                         + (f"; over: {', '.join(slow)}" if slow else ""))
        small = [(n, e) for n, e in emb1["queries"].items() if "small" in n]
        for n, e in small:
            overhead = e["timings"]["load"]["p50"] - e["timings"]["ideal"]["p50"]
            cold = e["timings"]["cold"]["p50"] - e["timings"]["ideal"]["p50"]
            lines.append(f"[{'MISS' if overhead > 1 else 'ok'}] embedded fixed overhead <= 1 ms "
                         f"p50 on {n}: {overhead:.2f} ms (load - ideal, a repeated query); "
                         f"{cold:.2f} ms the first time (cold - ideal, compiled afresh)")
        if result["rows"] >= 10_000_000:
            aggs = [(n, e["timings"]["load"]["p50"] / e["timings"]["ideal"]["p50"])
                    for n, e in emb1["queries"].items()
                    if "aggregation" in e.get("tags", [])]
            over = [f"{n} {r:.2f}x" for n, r in aggs if r > 1.05]
            lines.append(f"[{'MISS' if over else 'ok'}] end to end <= 1.05x raw on 10M+ "
                         f"aggregations" + (f"; over: {', '.join(over)}" if over else ""))
    comp = result.get("compile_200")
    if comp:
        worst = max((s["p50"], n) for n, s in comp["queries"].items())
        lines.append(f"[{'MISS' if worst[0] > 2 else 'ok'}] compile <= 2 ms p50 on the 200-cube "
                     f"model: worst {worst[1]} {worst[0]:.2f} ms")
    http = result.get("http")
    if http:
        for n, e in http["queries"].items():
            if "small" in n:
                p50 = e["timings"]["http"]["p50"]
                lines.append(f"[{'MISS' if p50 > 3 else 'ok'}] HTTP small-query p50 <= 3 ms "
                             f"({n}): {p50:.2f} ms")
    rss = [v for v in ([e["peak_rss_mb"] for e in result["embedded"].values()]
                       + [http.get("server_peak_rss_mb") if http else None]) if v]
    if rss:
        lines.append(f"[{'MISS' if max(rss) > 2048 else 'ok'}] peak RSS < 2 GB: max "
                     f"{max(rss):.0f} MB at {result['rows_label']} rows"
                     + ("" if result["rows"] >= 100_000_000 else " (target is for 100M rows)"))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="1m", help="1m, 10m, 100m (bench/data/events_<rows>)")
    parser.add_argument("--db", type=Path, default=None, help="database (default by --rows)")
    parser.add_argument("--repeats", type=int, default=21, help="rounds of the interleaved loop")
    parser.add_argument("--min-repeats", type=int, default=7,
                        help="rounds every query gets even over its time budget")
    parser.add_argument("--budget", type=float, default=40.0,
                        help="seconds per query and variant set after which it stops repeating")
    parser.add_argument("--http-repeats", type=int, default=15)
    parser.add_argument("--concurrent-rounds", type=int, default=3,
                        help="times each of the 8 clients sends each query")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--compile-repeats", type=int, default=300)
    parser.add_argument("--threads", default="1,none",
                        help="DuckDB threads settings to measure, comma-separated (none = all cores)")
    parser.add_argument("--only", default=None, help="comma-separated query names")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke run")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default bench/results)")
    parser.add_argument("--worker", choices=["embedded", "compile"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.min_repeats, args.http_repeats = 5, 3, 5
        args.concurrent_rounds, args.compile_repeats, args.budget = 1, 50, 10.0

    rows = generate.parse_rows(args.rows)
    db = args.db or generate.database_path(rows)

    if args.worker == "embedded":
        print(json.dumps(worker_embedded(args)))
        return 0
    if args.worker == "compile":
        print(json.dumps(worker_compile(args)))
        return 0

    if not db.exists():
        generate.generate(rows, db)
    label = generate.rows_label(rows)
    result: dict[str, Any] = {"rows": rows, "rows_label": label, "database": str(db),
                              "now": NOW, "environment": environment(),
                              "settings": {k: v for k, v in vars(args).items()
                                           if k not in ("worker", "db", "out")},
                              "embedded": {}}
    tags = {q.name: q.tags for q in queries(rows)}
    for threads in args.threads.split(","):
        log(f"embedded, threads={threads}")
        emb = run_worker("embedded", args, db, threads)
        for name, entry in emb["queries"].items():
            entry["tags"] = tags[name]
        result["embedded"][f"threads={threads}"] = emb
    log("compile only, 200-cube model")
    result["compile_200"] = run_worker("compile", args, db)
    if not args.no_http:
        result["http"] = measure_http(args, db)
    result["targets"] = evaluate_targets(result)
    result["environment"]["engine_source_sha256_at_end"] = engine_fingerprint()
    result["environment"]["machine_load_at_end"] = machine_load()
    if result["environment"]["engine_source_sha256_at_end"] != \
            result["environment"]["engine_source_sha256"]:
        log("WARNING: engine/*.py or server.py changed during the run; rerun for clean figures")

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = args.out or RESULTS / f"{label}.json"
    out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print_report(result)
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
