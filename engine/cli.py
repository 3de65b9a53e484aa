"""`duckcube` command line: `duckcube serve` answers Cube's REST API over local models and data.

    duckcube serve                       # shipped cubes/ over the shipped sample data, port 4000
    duckcube serve --models my_cubes --db warehouse.duckdb --port 4001
    duckcube serve --now 2026-11-22T11:10:14Z   # freeze the clock (or DUCKCUBE_NOW=...)
    CUBEJS_API_SECRET=... duckcube serve --host 0.0.0.0 --tenants data/ --gitlab-tokens tokens.json
    duckcube serve --dev                 # reload the models when their files change
    duckcube serve --project my-cube-project   # model/, globals.py, cube.py and .env of a Cube project

CUBEJS_API_SECRET in the environment turns on Cube's JWT check (HS256); without it the server
only listens on a loopback address.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import logging
import os
import sys
from datetime import datetime, timezone
from pathlib import Path


from .api import Engine, ModelStore, parse_instant
from .run.cache import DEFAULT_CONTINUE_WAIT, DEFAULT_QUERY_TIMEOUT, ResultCache, shared_queue
from .errors import ModelError
from .model import read_project
from .shipped import default_models, sample_database

_TRUE = ("1", "true", "yes", "on")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _seconds(text: str) -> float | None:
    """`5` -> 5.0; `0` / `off` / `none` -> None (never)."""
    if text.strip().lower() in ("off", "none", "never", "0"):
        return None
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _memory_limit(text: str) -> str | None:
    """`1GB` -> "1GB"; `auto` -> "auto" (1GB for a database opened here); `none` -> None (DuckDB's
    own default, 80% of RAM)."""
    return None if text.strip().lower() in ("none", "off") else text.strip()


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="duckcube", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve Cube's REST API")
    serve.add_argument("--models", type=Path, default=None,
                       help="directory of Cube models: YAML, Jinja, JS (default: ./cubes)")
    serve.add_argument("--project", type=Path, default=None,
                       help="a Cube project directory: its model/ folder, globals.py, cube.py "
                            "and .env (CUBEJS_DB_DUCKDB_DATABASE_PATH, CUBEJS_API_SECRET)")
    data = serve.add_mutually_exclusive_group()
    data.add_argument("--db", default=None,
                      help="DuckDB file (read-only) or directory of Parquet/CSV files; "
                           "default: the shipped sample data, dated around today")
    data.add_argument("--tenants", type=Path, default=None,
                      help="directory of tenants: tenant X (the token's appId) reads X.duckdb "
                           "or the Parquet/CSV folder X/")
    serve.add_argument("--backend", default=os.environ.get("DUCKCUBE_BACKEND", "duckdb"),
                       metavar="duckdb|chdb|clickhouse://user:pass@host:8123/db",
                       help="where queries run: duckdb (default); chdb, embedded ClickHouse over "
                            "the same --db / --tenants inputs; or a ClickHouse server, which "
                            "holds its own data")
    serve.add_argument("--tenant-databases", action="store_true",
                       help="with --backend clickhouse://...: tenant X (the token's appId) reads "
                            "the database X of that server (GitLab: gitlab_project_<id>)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=4000)
    serve.add_argument("--now", default=os.environ.get("DUCKCUBE_NOW"),
                       help="ISO-8601 instant that relative date ranges resolve against")
    serve.add_argument("--gitlab-tokens", type=Path, default=None,
                       help='JSON file {"token": [project ids]} for the GitLab routes')
    serve.add_argument("--dev", action="store_true",
                       default=os.environ.get("CUBEJS_DEV_MODE", "").lower() in _TRUE,
                       help="reload the models when their files change (or CUBEJS_DEV_MODE=true)")
    serve.add_argument("--continue-wait", type=_seconds, default=DEFAULT_CONTINUE_WAIT,
                       metavar="SECONDS",
                       help="answer 'Continue wait' for a query still running after this long "
                            f"(default {DEFAULT_CONTINUE_WAIT:g}, as Cube; 'off' to wait)")
    serve.add_argument("--query-timeout", type=_seconds, default=DEFAULT_QUERY_TIMEOUT,
                       metavar="SECONDS",
                       help="interrupt a query running longer than this "
                            f"(default {DEFAULT_QUERY_TIMEOUT:g}; 'off' for never)")
    serve.add_argument("--no-cache", action="store_true",
                       help="run every query (no result cache)")
    serve.add_argument("--threads", type=int, default=8, help="HTTP worker threads (default 8)")
    serve.add_argument("--memory-limit", type=_memory_limit,
                       default=os.environ.get("DUCKCUBE_MEMORY_LIMIT", "auto"), metavar="SIZE",
                       help="DuckDB memory limit per database, e.g. 4GB (default auto: 1GB; "
                            "'none' for DuckDB's 80%% of RAM; or DUCKCUBE_MEMORY_LIMIT)")
    commands.add_parser("check", add_help=False,
                        help="validate a model against its data (duckcube check --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["check"]:  # engine.testing.check has its own arguments
        from engine.testing.check import main as check_main
        return check_main(argv[1:])
    args = parser().parse_args(argv)
    project = None
    if args.project is not None:
        try:
            project = read_project(args.project)
        except ModelError as exc:
            print(f"duckcube: {exc}", file=sys.stderr)
            return 2
        args.models = args.models or project.models
        if args.db is None and args.tenants is None and project.database is not None:
            args.db = str(project.database)
    secret = os.environ.get("CUBEJS_API_SECRET") or (project.api_secret if project else None) \
        or None
    if not secret and not is_loopback(args.host):
        print(f"duckcube: refusing to listen on {args.host} without CUBEJS_API_SECRET: anyone "
              "who can reach it could read the data. Set CUBEJS_API_SECRET, or listen on "
              "127.0.0.1.", file=sys.stderr)
        return 2

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s duckcube %(message)s")
    from engine.web.auth import TokenFileError, TokenStore
    from engine.run import open_backend
    from engine.web.tenants import DatabaseTenants, Tenants

    now = parse_instant(args.now) if args.now else None
    options = dict(now=now, cache=ResultCache() if not args.no_cache else False,
                   continue_wait=args.continue_wait, query_timeout=args.query_timeout,
                   queue=shared_queue(), memory_limit=args.memory_limit)
    try:
        store = ModelStore(args.models or default_models(), watch=args.dev,
                           compile_context=project.compile_context() if project else None)
        on_server = args.backend.startswith("clickhouse")
        if on_server and (args.db or args.tenants):
            raise ModelError("a ClickHouse server holds its own data: no --db / --tenants")
        if args.tenant_databases and not on_server:
            raise ModelError("--tenant-databases needs --backend clickhouse://...")
        server = open_backend(args.backend) if on_server else None
        if server is not None and args.tenant_databases:
            def make_server_engine(name: str, database: str) -> Engine:
                return Engine(models=store, backend=server.for_tenant(database), tenant=name,
                              **options)
            backend = DatabaseTenants(server, make_server_engine, model_store=store)
            data = f"ClickHouse {server.target}: one database per appId"
        elif server is not None:
            backend = Engine(models=store, backend=server, **options)
            data = f"ClickHouse {server.target}"
        elif args.tenants:
            def make_engine(name: str, source: Path) -> Engine:
                return Engine(models=store, database=source, tenant=name, backend=args.backend,
                              **options)
            backend = Tenants.directory(args.tenants, make_engine, model_store=store)
            data = f"tenants from {args.tenants}/ (X.duckdb or X/ per appId), {args.backend}"
        else:
            database = args.db if args.db else sample_database(
                (now or datetime.now(timezone.utc)).date())
            backend = Engine(models=store, database=database, backend=args.backend, **options)
            data = (f"database {args.db}" if args.db else "the shipped sample data") + \
                f", {args.backend}"
        tokens = TokenStore(args.gitlab_tokens) if args.gitlab_tokens else None
    except (ModelError, FileNotFoundError, TokenFileError, ValueError) as exc:
        print(f"duckcube: {exc}", file=sys.stderr)
        return 2

    from server import create_app  # the web layer is only needed to serve
    import waitress

    from engine.run import warm_up
    warm_up()

    app = create_app(backend, api_secret=secret, gitlab_tokens=tokens)
    base = f"http://{args.host}:{args.port}"
    auth = ("JWT required (CUBEJS_API_SECRET)" if secret else
            "no auth: CUBEJS_API_SECRET unset, so serving on loopback only")
    gitlab = (f"tokens from {args.gitlab_tokens}" if tokens else
              "closed: no --gitlab-tokens" if secret else "open: no --gitlab-tokens, no auth")
    wait = f"{args.continue_wait:g} s" if args.continue_wait else "off"
    timeout = f"{args.query_timeout:g} s" if args.query_timeout else "off"
    print(f"duckcube: serving {len(store.model.cubes)} cubes on {base}/cubejs-api/v1 ({auth})\n"
          f"duckcube: data: {data}\n"
          f"duckcube: GraphQL {base}/cubejs-api/graphql; GitLab "
          f"{base}/api/v4/projects/:id/product_analytics/request/* ({gitlab})\n"
          f"duckcube: cache {'off' if args.no_cache else 'on'}, continue wait {wait}, "
          f"query timeout {timeout}"
          + (f"\nduckcube: dev mode: reloading models from {store.directory}" if args.dev else "")
          + ("\nduckcube: --tenants without CUBEJS_API_SECRET: the Cube routes refuse every "
             "request (the tenant comes from a signed token's appId); the GitLab routes work"
             if args.tenants and not secret else ""),
          flush=True)
    # What is loaded by now (modules, the model, the data's handles) lives as long as the
    # process: keep it out of the garbage collector's full collections, which would otherwise
    # walk it all: 76,000 objects on the bench model, 160,000 on the 200-cube one, a 56-141 ms
    # pause each time one runs (once in the first 1,000 bench requests). Frozen, a full
    # collection walks only what requests left behind.
    gc.collect()
    gc.freeze()
    waitress.serve(app, host=args.host, port=args.port, threads=args.threads, _quiet=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
