"""The typed model: cubes, views and their members as immutable dataclasses.

What `engine.model.load_model` builds from YAML and every later stage reads. Member SQL is kept
as a `Template` (literal text and references), rendered into query SQL by `engine.compile`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

from engine.errors import ModelError

MEASURE_TYPES = (
    "count", "count_distinct", "count_distinct_approx", "sum", "avg", "min", "max",
    "number", "string", "time", "boolean", "running_total",
)
DIMENSION_TYPES = ("string", "number", "boolean", "time", "geo")
# Measure types only a multi-stage measure (`multi_stage: true`) may have.
MULTI_STAGE_MEASURE_TYPES = ("rank", "number_agg")
RELATIONSHIPS = {
    "many_to_one": "many_to_one", "belongs_to": "many_to_one", "belongsTo": "many_to_one",
    "manyToOne": "many_to_one",
    "one_to_many": "one_to_many", "has_many": "one_to_many", "hasMany": "one_to_many",
    "oneToMany": "one_to_many",
    "one_to_one": "one_to_one", "has_one": "one_to_one", "hasOne": "one_to_one",
    "oneToOne": "one_to_one",
}
# How /meta spells a relationship (Cube reports the legacy camelCase names).
RELATIONSHIP_META_NAMES = {"many_to_one": "belongsTo", "one_to_many": "hasMany", "one_to_one": "hasOne"}



# ---------------------------------------------------------------------------------------------
# SQL templates: member SQL with `{...}` references, parsed once at load time

_REFERENCE = re.compile(r"\$?\{([^{}]*)\}")
_BARE_COLUMN = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")


@dataclass(frozen=True)
class CubeRef:
    """`{CUBE}`, `{TABLE}` or `{OtherCube}`: the SQL alias of a cube."""

    cube: str


@dataclass(frozen=True)
class MemberRef:
    """`{member}`, `{CUBE.member}` or `{OtherCube.member}`: the SQL of a member."""

    cube: str
    name: str


TemplatePart = Union[str, CubeRef, MemberRef]


@dataclass(frozen=True)
class Template:
    """SQL text split into literal pieces and references, e.g. `{CUBE}.a = {b}`."""

    parts: tuple[TemplatePart, ...]
    source: str

    def references(self) -> list[MemberRef]:
        return [p for p in self.parts if isinstance(p, MemberRef)]

    def cubes(self) -> set[str]:
        """Every cube this SQL mentions, itself included."""
        return {p.cube for p in self.parts if isinstance(p, (CubeRef, MemberRef))}

    @property
    def js_source(self) -> str:
        """The template as Cube's extended /meta prints it (a JS template literal)."""
        return "`" + _REFERENCE.sub(lambda m: "${" + m.group(1) + "}", self.source) + "`"


def parse_template(sql: str | int, cube: str, auto_prefix: bool = True) -> Template:
    """Split SQL into text and references. A bare column name gets its cube prefix, as in Cube."""
    text = str(sql)
    if auto_prefix and _BARE_COLUMN.match(text):
        return Template((CubeRef(cube), "." + text), text)
    parts: list[TemplatePart] = []
    position = 0
    for match in _REFERENCE.finditer(text):
        parts.append(text[position:match.start()])
        parts.append(_reference(match.group(1).strip(), cube))
        position = match.end()
    parts.append(text[position:])
    return Template(tuple(p for p in parts if p != ""), text)


def _reference(expression: str, cube: str) -> TemplatePart:
    pieces = expression.split(".")
    if pieces[0] in ("CUBE", "TABLE"):
        pieces[0] = cube
        if len(pieces) == 1:
            return CubeRef(cube)
    if len(pieces) == 1:
        # `{name}`: a member of this cube, or another cube; decided in _check_references.
        return MemberRef("", pieces[0])
    if len(pieces) == 2:
        return MemberRef(pieces[0], pieces[1])
    raise ModelError(f"unsupported reference '{{{expression}}}'")


# ---------------------------------------------------------------------------------------------
# The loaded model


_INTERVAL_PART = re.compile(
    r"(-?\d+)\s*(second|minute|hour|day|week|month|quarter|year)s?\b", re.IGNORECASE)
# How many of each unit make the next natural boundary: an interval that divides it needs no origin.
_NATURAL_DIVISORS = {"second": 60, "minute": 60, "hour": 24, "month": 12, "quarter": 4}


def parse_interval(text: str) -> list[tuple[int, str]]:
    """`"1 year 2 months"` -> `[(1, "year"), (2, "month")]`; raises ValueError when not one."""
    parts = [(int(n), unit.lower()) for n, unit in _INTERVAL_PART.findall(text)]
    if not parts or _INTERVAL_PART.sub("", text).strip():
        raise ValueError(f"'{text}' is not an interval like '1 year' or '2 weeks 3 days'")
    return parts


def duckdb_interval(parts: list[tuple[int, str]]) -> str:
    """Interval parts as DuckDB interval text (quarters as 3 months)."""
    return " ".join(f"{n * 3} months" if unit == "quarter" else f"{n} {unit}s" for n, unit in parts)


def is_natural_interval(parts: list[tuple[int, str]]) -> bool:
    """Cube's rule: without an origin only intervals that tile a year/day/hour evenly are allowed."""
    if len(parts) != 1:
        return False
    n, unit = parts[0]
    if n <= 0:
        return False
    if unit == "year":
        return True
    if unit in ("week", "day"):
        return n == 1
    return _NATURAL_DIVISORS[unit] % n == 0


@dataclass(frozen=True)
class Granularity:
    """A custom granularity of a time dimension (`interval`, with `offset` or `origin`)."""

    name: str
    interval: str
    offset: str | None = None
    origin: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class RollingWindow:
    """A cumulative measure's window around each time bucket (Cube's `rolling_window`).

    `trailing` / `leading`: an interval, "unbounded", or None; `to_date`: the granularity a
    to-date window starts at (`year` for year-to-date); `from_range_start`: `running_total`."""

    trailing: str | None = None
    leading: str | None = None
    offset: str = "end"
    to_date: str | None = None
    from_range_start: bool = False


@dataclass(frozen=True)
class Member:
    """A measure, dimension or segment of a cube."""

    cube: str
    name: str
    kind: Literal["measure", "dimension", "segment"]
    type: str
    sql: Template | None
    title: str
    short_title: str
    description: str | None
    public: bool
    meta: dict | None
    format: Any
    line: int | None
    primary_key: bool = False
    filters: tuple[Template, ...] = ()
    drill_members: tuple[str, ...] = ()
    drill_measures: tuple[str, ...] = ()  # those of `drill_members` that are measures
    granularities: tuple[Granularity, ...] = ()
    suggest_filter_values: bool = True
    # View members only: the cube member this one stands for, and the joins that lead to it.
    alias_member: str | None = None
    join_path: tuple[str, ...] = ()
    # A dimension computed per row of its cube from another cube's measure (`sub_query: true`).
    sub_query: bool = False
    rolling_window: RollingWindow | None = None  # cumulative measures only
    # `multi_stage: true`: loadable, but refused when queried (multi-stage queries are not run).
    multi_stage: bool = False

    @property
    def path(self) -> str:
        return f"{self.cube}.{self.name}"

    @property
    def is_measure(self) -> bool:
        return self.kind == "measure"

    def drill_members_grouped(self) -> dict:
        return {"measures": list(self.drill_measures),
                "dimensions": [d for d in self.drill_members if d not in self.drill_measures]}

    @property
    def is_time(self) -> bool:
        return self.kind == "dimension" and self.type == "time"


@dataclass(frozen=True)
class Join:
    target: str
    relationship: Literal["many_to_one", "one_to_many", "one_to_one"]
    sql: Template


@dataclass
class Cube:
    name: str
    alias: str
    title: str
    description: str | None
    public: bool
    meta: dict | None
    sql_table: str | None
    sql: Template | None
    file: str
    line: int | None
    joins: dict[str, Join] = field(default_factory=dict)
    measures: dict[str, Member] = field(default_factory=dict)
    dimensions: dict[str, Member] = field(default_factory=dict)
    segments: dict[str, Member] = field(default_factory=dict)
    refresh_key: dict | None = None
    kind: Literal["cube", "view"] = "cube"
    # /meta's flat `folders` ({name, members}) and `nestedFolders` (members may be folders).
    folders: list[dict] = field(default_factory=list)
    nested_folders: list[dict] = field(default_factory=list)
    # /meta's `hierarchies`: {name: "Cube.h", title?, levels: ["Cube.dim", ...], public}.
    hierarchies: list[dict] = field(default_factory=list)

    @property
    def primary_keys(self) -> list[Member]:
        return [d for d in self.dimensions.values() if d.primary_key]

    def member(self, name: str) -> Member | None:
        return self.measures.get(name) or self.dimensions.get(name) or self.segments.get(name)


@dataclass
class Model:
    """Every cube of a model directory, in file order, and the directed join graph between them."""

    cubes: dict[str, Cube]
    directory: Path | None = None
    # Keys the model uses whose behaviour the engine does not run (one line each, file:line
    # first), logged once when the model loads and listed by `duckcube check`.
    warnings: tuple[str, ...] = ()
    # Breadth-first join searches from a cube, filled in by `plan` as queries need them.
    join_paths: dict = field(default_factory=dict, repr=False, compare=False)

    def joins_from(self, cube: str) -> dict[str, Join]:
        return self.cubes[cube].joins

    def connected_components(self) -> dict[str, int]:
        """Component number per cube on the undirected join graph; cubes with no joins are absent.

        Numbered as Cube's /meta numbers them: walking the cubes that declare joins, in model
        order, with the number going up by one for each such cube, whether or not it was
        already reached from an earlier one."""
        neighbours: dict[str, set[str]] = {name: set() for name in self.cubes}
        for cube in self.cubes.values():
            for target in cube.joins:
                neighbours[cube.name].add(target)
                neighbours[target].add(cube.name)
        component: dict[str, int] = {}
        number = 0
        for name, cube in self.cubes.items():
            if not cube.joins:
                continue
            number += 1
            if name in component:
                continue
            stack = [name]
            while stack:
                current = stack.pop()
                if current in component:
                    continue
                component[current] = number
                stack.extend(neighbours[current] - component.keys())
        return component


# ---------------------------------------------------------------------------------------------
# Loading


