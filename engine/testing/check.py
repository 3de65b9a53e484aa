"""`duckcube check`: validate a cube model against its data.

    duckcube check [--models DIR] [--db PATH] [--examples N] [--invariant NAME] [--now ISO-8601]

Reports, each with the member and its file:line:

- a cube whose table or SQL does not run;
- a primary key that is not unique or has NULLs (joins that repeat the cube's rows then count
  and sum it wrongly: Cube's fan-out protection relies on the key);
- a join whose keys do not match: most rows of the side that must find a partner find none, or
  a many_to_one / one_to_one (or the many side of a one_to_many) that finds several partners
  and so repeats rows it must not repeat;
- a measure, dimension or segment whose SQL fails when queried alone;
- a measure that aggregates another cube's rows by hand (`sum({Other.x})`) and so counts them
  once per row of its own cube: its total differs from the same aggregate over the other cube;
- a query that breaks one of the invariants of `engine.testing`, shrunk by Hypothesis to a
  small query, printed as JSON.

Exit status: 0 when nothing is wrong, 1 when something is, 2 when the model or the database
cannot be opened at all.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable

import duckdb
from engine.api import Engine, parse_instant
from engine.errors import CubeError, ModelError
from engine.shipped import default_models, sample_database
from engine.compile import Renderer, cube_source
from engine.model import Cube, CubeRef, Member, MemberRef, Model, Template

DEFAULT_EXAMPLES = 50


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the model: what kind, which member (or join or cube), where."""

    kind: str          # cube | primary_key | join | member | fan_out | invariant
    subject: str       # `Cube.member`, `Cube -> Other` for a join, a cube name, an invariant
    file: str | None
    line: int | None
    message: str
    query: dict | None = None

    @property
    def where(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or "?"

    def __str__(self) -> str:
        text = f"{self.where}: {self.subject}: {self.message}"
        if self.query is not None:
            text += "\n    query: " + json.dumps(self.query)
        return text


# =============================================================================================
# SQL of the model's own pieces, run directly on the data


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _relation(sql: Renderer, cube_name: str, marker: str | None = None) -> str:
    """The cube's rows under its alias, its SQL as queries render it; with `marker`, an extra
    TRUE column of that name (which rows a LEFT JOIN matched)."""
    cube = sql.model.cubes[cube_name]
    if marker is None:
        return sql.dialect.render(cube_source(sql.model, cube_name, sql))
    inner = cube.sql_table if cube.sql_table is not None else \
        f"({sql.text(cube.sql)}) AS {_quote('__rows')}"  # type: ignore[arg-type]
    return f"(SELECT *, TRUE AS {_quote(marker)} FROM {inner}) AS {sql.cube_alias(cube_name)}"


def _run(connection: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    cursor = connection.cursor()
    try:
        return cursor.execute(sql).fetchall()
    finally:
        cursor.close()


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


# =============================================================================================
# The checks


class _Checker:
    def __init__(self, engine: Engine, model_root: Path | None):
        self.engine = engine
        self.model = engine.model
        self.sql = Renderer(self.model)
        self.connection = engine.connection
        self.root = model_root
        self.findings: list[Finding] = []
        self.broken_cubes: set[str] = set()
        self.rows: dict[str, int] = {}
        self._public: Engine | None = None

    # --- reporting ----------------------------------------------------------------------------

    def file_of(self, cube: Cube) -> str:
        return str(self.root / cube.file) if self.root is not None else cube.file

    def report(self, kind: str, subject: str, cube: Cube, line: int | None, message: str,
               query: dict | None = None) -> None:
        self.findings.append(Finding(kind, subject, self.file_of(cube), line, message, query))

    @property
    def public(self) -> Engine:
        """The same model with every member public, so hidden keys can be queried alone."""
        if self._public is None:
            cubes = {}
            for name, cube in self.model.cubes.items():
                cubes[name] = dataclasses.replace(cube, **{
                    group: {n: dataclasses.replace(m, public=True)
                            for n, m in getattr(cube, group).items()}
                    for group in ("measures", "dimensions", "segments")})
            self._public = Engine(models=Model(cubes=cubes, directory=self.model.directory),
                                  database=self.connection, now=self.engine.now())
        return self._public

    # --- cubes and keys -----------------------------------------------------------------------

    def tables(self) -> list[tuple[str, Cube]]:
        """The cubes that read a table or SQL of their own (views read their cubes')."""
        return [(n, c) for n, c in self.model.cubes.items()
                if getattr(c, "kind", "cube") == "cube"]

    def cubes(self) -> None:
        for name, cube in self.tables():
            try:
                self.rows[name] = _run(self.connection,
                                       f"SELECT count(*) FROM {_relation(self.sql, name)}")[0][0]
            except duckdb.Error as error:
                self.broken_cubes.add(name)
                what = f"sql_table {cube.sql_table}" if cube.sql_table else "sql"
                self.report("cube", name, cube, cube.line,
                            f"its {what} fails: {_first_line(error)}")

    def primary_keys(self) -> None:
        for name, cube in self.tables():
            keys = cube.primary_keys
            if name in self.broken_cubes or not keys:
                continue
            source = _relation(self.sql, name)
            texts = [self.sql.member_text(k) for k in keys]
            total = self.rows[name]
            for key, text in zip(keys, texts):
                try:
                    nulls = _run(self.connection,
                                 f"SELECT count(*) FROM {source} WHERE ({text}) IS NULL")[0][0]
                except duckdb.Error:
                    continue  # the member check reports SQL that fails
                if nulls:
                    self.report("primary_key", key.path, cube, key.line,
                                f"primary key is NULL in {nulls} of {total} rows: those rows "
                                "vanish from counts over joins that repeat them")
            columns = ", ".join(f"({t})" for t in texts)
            not_null = " AND ".join(f"({t}) IS NOT NULL" for t in texts)
            try:
                repeated = _run(self.connection, (
                    f"SELECT {columns}, count(*) AS n FROM {source} WHERE {not_null} "
                    f"GROUP BY ALL HAVING count(*) > 1 ORDER BY n DESC, 1 LIMIT 3"))
                how_many = _run(self.connection, (
                    f"SELECT count(*) FROM (SELECT {columns} FROM {source} WHERE {not_null} "
                    f"GROUP BY ALL HAVING count(*) > 1)"))[0][0]
            except duckdb.Error:
                continue
            if repeated:
                examples = ", ".join(
                    f"{'|'.join(str(v) for v in row[:-1])} x{row[-1]}" for row in repeated)
                key = keys[0]
                label = key.path if len(keys) == 1 else \
                    "(" + ", ".join(k.path for k in keys) + ")"
                self.report("primary_key", label, cube, key.line,
                            f"primary key is not unique: {how_many} values repeat (e.g. "
                            f"{examples}); counts and sums over joins are wrong for {name}")

    # --- joins --------------------------------------------------------------------------------

    def joins(self) -> None:
        for name, cube in self.tables():
            for target, join in cube.joins.items():
                if {name, target} & self.broken_cubes or target not in self.model.cubes:
                    continue
                if self.model.cubes[target].alias == cube.alias:
                    continue
                self.join(cube, target, join.relationship, self.sql.text(join.sql))

    def join(self, cube: Cube, target: str, relationship: str, on: str) -> None:
        subject = f"{cube.name} -> {target}"
        line = _join_line(self.file_path(cube), cube.line, target) or cube.line
        # Which side must find exactly one partner per row: the many side of the join.
        sides = [(cube.name, target)]
        if relationship == "one_to_many":
            sides = [(target, cube.name)]
        elif relationship == "one_to_one":
            sides = [(cube.name, target), (target, cube.name)]
        marker = "__duckcube_partner"
        for child, parent in sides:
            try:
                joined, matched = _run(self.connection, (
                    f"SELECT count(*), count({_quote(marker)}) FROM {_relation(self.sql, child)} "
                    f"LEFT JOIN {_relation(self.sql, parent, marker)} ON {on}"))[0]
            except duckdb.Error as error:
                self.report("join", subject, cube, line,
                            f"{relationship} join SQL fails: {_first_line(error)}")
                return
            rows = self.rows[child]
            unmatched = joined - matched
            if joined > rows:
                self.report("join", subject, cube, line, (
                    f"{relationship} join repeats {child} rows ({rows} rows become {joined}): "
                    f"some {child} rows find several {parent} rows, so the join key is not "
                    f"unique on the {parent} side"))
            if rows and unmatched * 2 > rows:
                self.report("join", subject, cube, line, (
                    f"{relationship} join keys do not match: {unmatched} of {rows} {child} "
                    f"rows find no {parent} row"))

    def file_path(self, cube: Cube) -> Path | None:
        if self.model.directory is None:
            return None
        return Path(self.model.directory) / cube.file

    # --- members alone ------------------------------------------------------------------------

    def members(self) -> None:
        for name, cube in self.model.cubes.items():
            if name in self.broken_cubes:
                continue
            working: dict | None = None
            for member in list(cube.measures.values()) + list(cube.dimensions.values()):
                if set(getattr(member, "join_path", ())) & self.broken_cubes:
                    continue  # a view member over a cube already reported broken
                key = "measures" if member.is_measure else "dimensions"
                attempts = [{key: [member.path], "limit": 1}]
                if member.is_time:
                    for granularity in ("day",) + tuple(g.name for g in member.granularities):
                        attempts.append({"timeDimensions": [
                            {"dimension": member.path, "granularity": granularity}], "limit": 1})
                ok = True
                for query in attempts:
                    if not self.alone(cube, member, query):
                        ok = False
                        break
                if ok and working is None:
                    working = {key: [member.path]}
            for segment in cube.segments.values():
                if working is not None:
                    self.alone(cube, segment, {**working, "segments": [segment.path], "limit": 1})
                    continue
                try:
                    _run(self.connection, f"SELECT count(*) FROM {_relation(self.sql, name)} "
                                          f"WHERE {self.sql.text(segment.sql)}")  # type: ignore
                except duckdb.Error as error:
                    self.report("member", segment.path, cube, segment.line,
                                f"segment SQL fails: {_first_line(error)}")

    def alone(self, cube: Cube, member: Member, query: dict) -> bool:
        try:
            self.public.load(query)
        except CubeError as error:
            self.report("member", member.path, cube, member.line,
                        f"{member.kind} SQL fails when queried alone: {error.message}", query)
            return False
        except Exception as error:  # the engine itself broke: worth reporting, not crashing on
            self.report("member", member.path, cube, member.line,
                        f"the engine crashed on it: {type(error).__name__}: {error}", query)
            return False
        return True

    # --- aggregates of another cube's rows ----------------------------------------------------

    def fan_out(self) -> None:
        for name, cube in self.tables():
            for measure in cube.measures.values():
                if measure.type not in ("sum", "avg", "count", "number") or measure.filters:
                    continue
                if measure.sql is None:
                    continue
                mentioned = _mentioned_cubes(self.model, measure.sql, set())
                if name in mentioned or len(mentioned) != 1:
                    continue
                (other,) = mentioned
                if {name, other} & self.broken_cubes:
                    continue
                try:
                    own = _run(self.connection, f"SELECT {self.sql.member_text(measure)} "
                                                f"FROM {_relation(self.sql, other)}")[0][0]
                    rows = self.public.load({"measures": [measure.path]})["data"]
                except (duckdb.Error, CubeError):
                    continue  # failing SQL is reported by the member check
                answered = rows[0][measure.path] if rows else None
                if not _same_number(own, answered):
                    self.report("fan_out", measure.path, cube, measure.line, (
                        f"aggregates {other} rows from cube {name}: over {other}'s own rows it "
                        f"is {_plain(own)}, but the query answers {answered} because joining "
                        f"{other} to {name} repeats each {other} row once per {name} row; define "
                        f"the aggregate on {other} and reference that measure"),
                        {"measures": [measure.path]})

    # --- invariants ---------------------------------------------------------------------------

    def invariants(self, examples: int, names: Iterable[str]) -> None:
        if examples <= 0:
            return
        from engine.testing import INVARIANTS
        broken = {f.subject for f in self.findings if f.kind == "member"}
        for name in names:
            invariant = INVARIANTS[name]
            strategy = self.strategy(name, broken)
            if strategy is None:
                return  # nothing public to query
            failure = _search(self.engine, strategy, invariant, examples)
            if failure is None:
                continue
            query, error = failure
            message = str(error) if isinstance(error, AssertionError) else \
                f"the engine crashed: {type(error).__name__}: {error}"
            message = message.splitlines()[0] if message else type(error).__name__
            message = message.removeprefix(f"{name}: ")
            cube, line = self.locate(query)
            self.findings.append(Finding("invariant", name, self.file_of(cube) if cube else None,
                                         line, message, query))

    def strategy(self, invariant: str, broken: set[str]) -> Any:
        """Queries suited to the invariant, without members already reported broken."""
        from engine.testing import FEATURES, queries
        # Queries that give the invariant something to compare: groups to add up, filters to
        # negate, rows to page through. Measure filters (HAVING) switch the first two off.
        features, require = {
            "additive_measures_sum_to_total": (FEATURES - {"measure_filters"}, ("dimensions",)),
            "filter_and_negation_partition": (FEATURES - {"measure_filters"}, ("filters",)),
            "pages_concatenate": (FEATURES, ("dimensions",)),
        }.get(invariant, (FEATURES, ()))
        for required in (require, ()):
            try:
                return queries(self.engine, features=features, require=required,
                               exclude=broken)
            except ValueError:
                continue
        return None

    def locate(self, query: dict) -> tuple[Cube | None, int | None]:
        paths = list(query.get("measures") or []) + list(query.get("dimensions") or [])
        paths += [td["dimension"] for td in query.get("timeDimensions") or []]
        for path in paths:
            cube_name, _, member_name = path.partition(".")
            cube = self.model.cubes.get(cube_name)
            member = cube.member(member_name.split(".")[0]) if cube else None
            if member is not None:
                return cube, member.line
        return None, None


def _search(engine: Engine, strategy: Any, invariant: Any, examples: int,
            shrink_budget: int = 60) -> tuple[dict, BaseException] | None:
    """Run Hypothesis on one invariant; the shrunk failing query and its error, if any.

    Shrinking stops paying for invariant runs after `shrink_budget` of them: from then on only
    queries that already failed fail again, so Hypothesis settles on the smallest one so far."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings

    failures: list[tuple[dict, BaseException]] = []
    failed: dict[str, BaseException] = {}
    runs_since_failure = [0]

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              verbosity=Verbosity.quiet, report_multiple_bugs=False, print_blob=False,
              suppress_health_check=list(HealthCheck),
              phases=(Phase.explicit, Phase.generate, Phase.shrink))
    @given(strategy)
    def probe(query: dict) -> None:
        key = json.dumps(query, sort_keys=True)
        if failures:
            if key in failed:
                failures.append((query, failed[key]))
                raise failed[key]
            runs_since_failure[0] += 1
            if runs_since_failure[0] > shrink_budget:
                return
        try:
            invariant(engine, query)
        except Exception as error:
            failures.append((query, error))
            failed[key] = error
            raise

    try:
        probe()
    except Exception:
        # Hypothesis replays the shrunk example last.
        return failures[-1] if failures else None
    return None


def _mentioned_cubes(model: Model, template: Template, seen: set[str]) -> set[str]:
    """Cubes whose columns a measure's SQL reads, through member references."""
    cubes: set[str] = set()
    for part in template.parts:
        if isinstance(part, CubeRef):
            cubes.add(part.cube)
        elif isinstance(part, MemberRef):
            member = model.cubes[part.cube].member(part.name)
            if member is None or member.path in seen:
                continue
            seen.add(member.path)
            if member.sql is not None:
                cubes |= _mentioned_cubes(model, member.sql, seen)
            elif member.is_measure:
                cubes.add(member.cube)  # a count without sql counts its own cube's rows
    return cubes


def _same_number(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    try:
        x, y = Decimal(str(a)), Decimal(str(b))
    except InvalidOperation:
        return str(a) == str(b)
    return abs(x - y) <= Decimal("1e-9") * max(Decimal(1), abs(x), abs(y))


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_JOIN_NAME = r"^\s*-\s*name:\s*[\"']?{}[\"']?\s*$"


def _join_line(path: Path | None, cube_line: int | None, target: str) -> int | None:
    """The line of `- name: <target>` in the cube's `joins:` list (the model keeps no line)."""
    if path is None or cube_line is None or not path.is_file():
        return None
    lines = path.read_text().splitlines()
    pattern = re.compile(_JOIN_NAME.format(re.escape(target)))
    in_joins = False
    for number in range(cube_line, len(lines) + 1):
        text = lines[number - 1]
        if number > cube_line and re.match(r"^\s*-\s*name:", text) and \
                len(text) - len(text.lstrip()) <= 2:
            break  # the next cube
        if re.match(r"^\s*joins:\s*$", text):
            in_joins = True
        elif in_joins and pattern.match(text):
            return number
    return None


# =============================================================================================
# Entry points


def check(engine: Engine, examples: int = DEFAULT_EXAMPLES,
          model_root: str | Path | None = None,
          invariants: Iterable[str] | None = None) -> list[Finding]:
    """Every finding about `engine`'s model and data, sorted by file and line.

    `examples` is how many Hypothesis examples each invariant gets (0 skips the invariants);
    `invariants` names the ones to run (default: all of `engine.testing.INVARIANTS`);
    `model_root` is how file names are shown (default: the model directory)."""
    names: list[str] = []
    if examples > 0:
        from engine.testing import INVARIANTS  # needs Hypothesis
        names = list(invariants) if invariants else list(INVARIANTS)
        unknown = [n for n in names if n not in INVARIANTS]
        if unknown:
            raise ValueError(f"unknown invariants: {', '.join(unknown)}; "
                             f"known: {', '.join(INVARIANTS)}")
    root = Path(model_root) if model_root is not None else \
        (Path(engine.model.directory) if engine.model.directory is not None else None)
    checker = _Checker(engine, root)
    checker.cubes()
    checker.primary_keys()
    checker.joins()
    checker.members()
    checker.fan_out()
    checker.invariants(examples, names)
    order = {"cube": 0, "primary_key": 1, "join": 2, "member": 3, "fan_out": 4, "invariant": 5}
    return sorted(checker.findings,
                  key=lambda f: (order.get(f.kind, 9), f.file or "", f.line or 0, f.subject))


def main(argv: Iterable[str] | None = None) -> int:
    """`duckcube check`: print every finding; 0 when clean, 1 when not, 2 when unopenable."""
    parser = argparse.ArgumentParser(prog="duckcube check",
                                     description="validate a cube model against its data")
    add_arguments(parser)
    args = parser.parse_args(list(argv) if argv is not None else None)
    return run(args)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `duckcube check` (shared with the `duckcube` command's subparser)."""
    parser.add_argument("--models", type=Path, default=None,
                        help="directory of Cube YAML models (default: ./cubes)")
    parser.add_argument("--db", default=None,
                        help="DuckDB file or directory of Parquet/CSV files; default: the "
                             "shipped sample data")
    parser.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES,
                        help=f"Hypothesis examples per invariant (default {DEFAULT_EXAMPLES}; "
                             "0 skips the invariants)")
    parser.add_argument("--invariant", action="append", dest="invariants", metavar="NAME",
                        help="run only this invariant of engine.testing.INVARIANTS "
                             "(repeatable; default: all)")
    parser.add_argument("--now", default=os.environ.get("DUCKCUBE_NOW"),
                        help="ISO-8601 instant that relative date ranges resolve against")


def run(args: argparse.Namespace) -> int:
    """Run the check for parsed arguments (`--models`, `--db`, `--examples`, `--now`)."""
    now = parse_instant(args.now) if args.now else None
    models = args.models or default_models()
    if args.examples > 0:
        try:
            from engine import testing
        except ImportError:
            print("duckcube check: the invariant checks need Hypothesis "
                  "(pip install 'duckcube[test]'); --examples 0 skips them", file=sys.stderr)
            return 2
        unknown = [n for n in args.invariants or () if n not in testing.INVARIANTS]
        if unknown:
            print(f"duckcube check: unknown invariant {', '.join(unknown)}; known: "
                  f"{', '.join(testing.INVARIANTS)}", file=sys.stderr)
            return 2
    try:
        if args.db:
            database: Any = args.db
        else:
            database = sample_database((now or datetime.now(timezone.utc)).date())
        engine = Engine(models=models, database=database, now=now)
    except ModelError as error:
        print(f"duckcube check: {error}", file=sys.stderr)
        return 2
    except duckdb.Error as error:
        print(f"duckcube check: cannot open the database: {_first_line(error)}", file=sys.stderr)
        return 2
    findings = check(engine, examples=args.examples, model_root=models,
                     invariants=args.invariants)
    for finding in findings:
        print(finding)
    # Keys accepted but not run: listed, not counted as problems (the answers do not use them).
    for line in engine.model.warnings:
        print(f"warning: {line}")
    cubes = len(engine.model.cubes)
    if findings:
        print(f"duckcube check: {len(findings)} problem{'s' if len(findings) != 1 else ''} "
              f"in {models} ({cubes} cubes)")
        return 1
    print(f"duckcube check: {models} is clean ({cubes} cubes, "
          f"{args.examples} examples per invariant)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
