"""Cube YAML models -> a validated, immutable `Model`.

Reads every `*.yml` / `*.yaml` below a directory, checks it against Cube's model schema (unknown keys,
bad types, duplicate members, missing references) and fails with `ModelError` naming the file, line
and member. The result only describes the model; turning member SQL into query SQL is `sqlgen`'s job.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "a.yml").write_text("cubes:\\n  - name: A\\n    sql_table: a\\n    measures:\\n      - name: count\\n        type: count\\n")
>>> load_model(d).cubes["A"].measures["count"].path
'A.count'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ModelError
from .naming import titleize, underscore
from .yaml_lines import LineDict, line_of, load_yaml

# ---------------------------------------------------------------------------------------------
# The YAML schema (snake_case keys, as Cube's YAML compiler accepts them)

Identifier = Field(pattern=r"^[_a-zA-Z][_a-zA-Z0-9]*$")

MEASURE_TYPES = (
    "count", "count_distinct", "count_distinct_approx", "sum", "avg", "min", "max",
    "number", "string", "time", "boolean", "running_total",
)
DIMENSION_TYPES = ("string", "number", "boolean", "time")
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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _FilterDef(_Strict):
    sql: str


class _GranularityDef(_Strict):
    name: str = Identifier
    interval: str
    offset: str | None = None
    origin: str | None = None
    title: str | None = None


class _MeasureDef(_Strict):
    name: str = Identifier
    type: Literal[MEASURE_TYPES]  # type: ignore[valid-type]
    sql: str | int | None = None
    title: str | None = None
    description: str | None = None
    public: bool | None = None
    shown: bool | None = None
    visible: bool | None = None
    filters: list[_FilterDef] = []
    format: Union[str, dict] | None = None
    drill_members: list[str] = []
    meta: dict | None = None
    rolling_window: "_RollingWindowDef | None" = None
    cumulative: bool | None = None


class _RollingWindowDef(_Strict):
    trailing: str | None = None
    leading: str | None = None
    offset: Literal["start", "end"] = "end"
    type: Literal["fixed", "to_date"] = "fixed"
    granularity: str | None = None


class _CaseLabel(_Strict):
    sql: str


class _CaseWhen(_Strict):
    sql: str
    label: Union[str, _CaseLabel]


class _CaseElse(_Strict):
    label: Union[str, _CaseLabel]


class _CaseDef(_Strict):
    when: list[_CaseWhen]
    else_: _CaseElse | None = Field(default=None, alias="else")


class _DimensionDef(_Strict):
    name: str = Identifier
    type: Literal[DIMENSION_TYPES]  # type: ignore[valid-type]
    sql: str | int | None = None
    case: _CaseDef | None = None
    sub_query: bool = False
    propagate_filters_to_sub_query: bool = False
    primary_key: bool = False
    public: bool | None = None
    shown: bool | None = None
    title: str | None = None
    description: str | None = None
    format: Union[str, dict] | None = None
    meta: dict | None = None
    suggest_filter_values: bool | None = None
    granularities: list[_GranularityDef] = []


class _SegmentDef(_Strict):
    name: str = Identifier
    sql: str
    title: str | None = None
    description: str | None = None
    public: bool | None = None
    shown: bool | None = None
    meta: dict | None = None


class _JoinDef(_Strict):
    name: str = Identifier
    relationship: Literal[tuple(RELATIONSHIPS)]  # type: ignore[valid-type]
    sql: str


class _CubeDef(_Strict):
    name: str = Identifier
    extends: str | None = None
    sql_table: str | None = None
    sql: str | None = None
    sql_alias: str | None = None
    title: str | None = None
    description: str | None = None
    public: bool | None = None
    shown: bool | None = None
    meta: dict | None = None
    data_source: str | None = None
    refresh_key: dict | None = None
    joins: list[_JoinDef] = []
    measures: list[_MeasureDef] = []
    dimensions: list[_DimensionDef] = []
    segments: list[_SegmentDef] = []
    # Accepted so real-world models load; the engine does not use pre-aggregations.
    pre_aggregations: list[dict] = []


class _ViewMemberDef(_Strict):
    name: str
    alias: str | None = None
    title: str | None = None
    description: str | None = None
    format: Union[str, dict] | None = None
    meta: dict | None = None


class _ViewCubeDef(_Strict):
    join_path: str
    includes: Union[Literal["*"], list[Union[str, _ViewMemberDef]]] = []
    excludes: list[str] = []
    prefix: bool = False
    alias: str | None = None


class _FolderDef(_Strict):
    name: str
    includes: list[str] = []


class _ViewDef(_Strict):
    name: str = Identifier
    title: str | None = None
    description: str | None = None
    public: bool | None = None
    shown: bool | None = None
    meta: dict | None = None
    cubes: list[_ViewCubeDef] = []
    folders: list[_FolderDef] = []


_MeasureDef.model_rebuild()


class _ModelFile(_Strict):
    cubes: list[_CubeDef] = []
    views: list[_ViewDef] = []


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
    folders: list[dict] = field(default_factory=list)

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


def load_model(directory: str | Path) -> Model:
    """Load and validate every YAML model file below `directory` (sorted by path)."""
    root = Path(directory)
    if not root.is_dir():
        raise ModelError(f"model directory not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    cube_sources: list[_Source] = []
    view_sources: list[_Source] = []
    for path in files:
        cubes_here, views_here = _load_file(path, root)
        cube_sources += cubes_here
        view_sources += views_here
    cubes: dict[str, Cube] = {}
    for raw, file in _apply_extends(cube_sources):
        cube = _build_cube(_validated(_CubeDef, raw, file), raw, file)
        _add_unique(cubes, cube)
    model = Model(cubes=cubes, directory=root)
    _check_references(model)
    _check_join_keys(model)
    for raw, file in view_sources:
        _add_unique(model.cubes, _build_view(_validated(_ViewDef, raw, file), raw, file, model))
    return model


_Source = tuple[dict, str]  # a cube's or view's YAML mapping, and its file


def _add_unique(cubes: dict[str, Cube], cube: Cube) -> None:
    if cube.name in cubes:
        raise ModelError(f"cube '{cube.name}' is defined twice (also in {cubes[cube.name].file})",
                         cube.file, cube.line)
    cubes[cube.name] = cube


def _load_file(path: Path, root: Path) -> tuple[list[_Source], list[_Source]]:
    shown = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    try:
        document = load_yaml(path.read_text())
    except Exception as exc:  # yaml reports its own line
        mark = getattr(exc, "problem_mark", None)
        raise ModelError(f"invalid YAML: {getattr(exc, 'problem', exc)}", shown,
                         mark.line + 1 if mark else None) from None
    if document is None:
        return [], []
    if not isinstance(document, dict):
        raise ModelError("a model file must be a mapping with a `cubes:` list", shown, 1)
    try:
        _ModelFile.model_validate(document)
    except ValidationError as exc:
        raise _explain(exc, document, shown) from None
    return ([(raw, shown) for raw in document.get("cubes") or []],
            [(raw, shown) for raw in document.get("views") or []])


def _validated(schema: type[BaseModel], raw: dict, file: str) -> Any:
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        kind = "cubes" if schema is _CubeDef else "views"
        raise _explain(exc, {kind: [raw]}, file) from None


def _apply_extends(sources: list[_Source]) -> list[_Source]:
    """Cubes with `extends` get their parent's definition, their own members winning."""
    by_name = {raw["name"]: (raw, file) for raw, file in sources}
    resolved: dict[str, dict] = {}

    def resolve(name: str, seen: tuple[str, ...]) -> dict:
        if name in resolved:
            return resolved[name]
        raw, file = by_name[name]
        parent_name = raw.get("extends")
        if parent_name is None:
            resolved[name] = raw
            return raw
        if parent_name not in by_name:
            raise ModelError(f"cube '{name}' extends unknown cube '{parent_name}'",
                             file, line_of(raw, ("extends",)))
        if parent_name in seen:
            raise ModelError(f"cube '{name}': circular extends " + " -> ".join(seen + (name,)),
                             file, line_of(raw, ("extends",)))
        parent = resolve(parent_name, seen + (name,))
        merged = LineDict({k: v for k, v in parent.items() if k not in ("name", "extends")})
        merged.line, merged.key_lines = raw.line, {**parent.key_lines, **raw.key_lines}
        if "sql" in raw or "sql_table" in raw:  # a child's source hides the parent's
            merged.pop("sql", None)
            merged.pop("sql_table", None)
        for key, value in raw.items():
            if key in ("measures", "dimensions", "segments", "joins") and key in parent:
                own = {item.get("name") for item in value}
                merged[key] = [item for item in parent[key] if item.get("name") not in own] + value
            elif key != "extends":
                merged[key] = value
        resolved[name] = merged
        return merged

    return [(resolve(raw["name"], ()), file) for raw, file in sources]


def _explain(exc: ValidationError, document: dict, file: str) -> ModelError:
    """Turn pydantic's first complaint into a message naming the member and line."""
    errors = exc.errors()
    # An unknown key is the likeliest root cause (a typo), so report it before what it hides.
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(error["loc"])
    names = []
    node: Any = document
    for step in loc:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and "name" in node and isinstance(step, int):
            names.append(str(node["name"]))
    key = loc[-1] if loc and isinstance(loc[-1], str) else None
    if error["type"] == "extra_forbidden":
        reason = f"unknown key '{key}'"
    elif key:
        reason = f"'{key}': {error['msg']}"
    else:
        reason = error["msg"]
    where = " ".join(
        f"{kind} '{name}'"
        for kind, name in zip(_kinds_along(loc), names)
    )
    return ModelError(f"{where}: {reason}" if where else reason, file, line_of(document, loc))


def _kinds_along(loc: tuple) -> list[str]:
    kinds = {"cubes": "cube", "measures": "measure", "dimensions": "dimension",
             "segments": "segment", "joins": "join", "granularities": "granularity"}
    return [kinds[step] for step in loc if isinstance(step, str) and step in kinds]


def _parse_template(sql: str | int, cube: str, auto_prefix: bool = True) -> Template:
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


def _build_cube(definition: _CubeDef, raw: dict, file: str) -> Cube:
    name = definition.name
    line = getattr(raw, "line", None)
    if (definition.sql is None) == (definition.sql_table is None):
        raise ModelError(
            f"cube '{name}': You must use either sql or sqlTable within a model, but not both",
            file, line)
    cube_title = definition.title or titleize(name)
    member_names: set[str] = set()
    for group in ("measures", "dimensions", "segments"):
        for index, member in enumerate(getattr(definition, group)):
            if member.name in member_names:
                raise ModelError(f"cube '{name}': duplicate member '{member.name}'",
                                 file, line_of(raw, (group, index)))
            member_names.add(member.name)

    def template(sql: str | int, where: tuple, auto_prefix: bool = True) -> Template:
        try:
            return _parse_template(sql, name, auto_prefix=auto_prefix)
        except ModelError as exc:
            raise ModelError(f"cube '{name}': {exc.reason}", file, line_of(raw, where)) from None

    def visible(member: Any, default: bool = True) -> bool:
        for flag in ("public", "shown", "visible"):
            value = getattr(member, flag, None)
            if value is not None:
                return value
        return default

    cube = Cube(
        name=name,
        alias=definition.sql_alias or underscore(name),
        title=cube_title,
        description=definition.description,
        public=visible(definition),
        meta=definition.meta,
        sql_table=definition.sql_table,
        sql=template(definition.sql, (), auto_prefix=False) if definition.sql else None,
        file=file,
        line=line,
        refresh_key=definition.refresh_key,
    )
    for index, j in enumerate(definition.joins):
        if j.name in cube.joins:
            raise ModelError(f"cube '{name}': duplicate join '{j.name}'",
                             file, line_of(raw, ("joins", index)))
        cube.joins[j.name] = Join(j.name, RELATIONSHIPS[j.relationship],  # type: ignore[arg-type]
                                  template(j.sql, ("joins", index), auto_prefix=False))
    for index, m in enumerate(definition.measures):
        where = ("measures", index)
        if m.sql is None and m.type not in ("count",):
            raise ModelError(f"cube '{name}' measure '{m.name}': type '{m.type}' needs `sql`",
                             file, line_of(raw, where))
        member_title = m.title or titleize(m.name)
        window = _rolling_window(m, name, file, line_of(raw, where))
        cube.measures[m.name] = Member(
            cube=name, name=m.name, kind="measure", type=m.type,
            sql=template(m.sql, where) if m.sql is not None else None,
            title=f"{cube_title} {member_title}", short_title=member_title,
            description=m.description, public=visible(m), meta=m.meta, format=m.format,
            line=line_of(raw, where),
            filters=tuple(template(f.sql, where, auto_prefix=False) for f in m.filters),
            drill_members=tuple(d if "." in d else f"{name}.{d}" for d in m.drill_members),
            rolling_window=window,
        )
    for index, d in enumerate(definition.dimensions):
        where = ("dimensions", index)
        if (d.sql is None) == (d.case is None):
            raise ModelError(f"cube '{name}' dimension '{d.name}': needs either `sql` or `case`",
                             file, line_of(raw, where))
        sql = _case_sql(d.case) if d.case is not None else d.sql
        if d.granularities and d.type != "time":
            raise ModelError(
                f"cube '{name}' dimension '{d.name}': granularities need a time dimension",
                file, line_of(raw, where))
        for g_index, g in enumerate(d.granularities):
            _check_granularity(g, name, d.name, file, line_of(raw, where + ("granularities", g_index)))
        member_title = d.title or titleize(d.name)
        cube.dimensions[d.name] = Member(
            cube=name, name=d.name, kind="dimension", type=d.type,
            sql=template(sql, where, auto_prefix=d.case is None),
            title=f"{cube_title} {member_title}",
            short_title=member_title, description=d.description,
            # Primary keys are hidden unless the model makes them public.
            public=visible(d, default=not d.primary_key), meta=d.meta, format=d.format,
            line=line_of(raw, where), primary_key=d.primary_key, sub_query=d.sub_query,
            granularities=tuple(Granularity(**g.model_dump()) for g in d.granularities),
            suggest_filter_values=d.suggest_filter_values is not False,
        )
    for index, s in enumerate(definition.segments):
        where = ("segments", index)
        member_title = s.title or titleize(s.name)
        cube.segments[s.name] = Member(
            cube=name, name=s.name, kind="segment", type="segment",
            sql=template(s.sql, where), title=f"{cube_title} {member_title}",
            short_title=member_title, description=s.description, public=visible(s),
            meta=s.meta, format=None, line=line_of(raw, where),
        )
    return cube


def _rolling_window(m: _MeasureDef, cube: str, file: str, line: int | None) -> RollingWindow | None:
    where = f"cube '{cube}' measure '{m.name}'"
    if m.type == "running_total":
        return RollingWindow(trailing="unbounded", from_range_start=True)
    window = m.rolling_window
    if window is None:
        return None
    if window.type == "to_date":
        if window.granularity not in ("year", "quarter", "month", "week", "day", "hour",
                                      "minute", "second"):
            raise ModelError(f"{where}: a to_date rolling window needs a granularity", file, line)
        return RollingWindow(to_date=window.granularity)
    for text in (window.trailing, window.leading):
        if text is not None and text != "unbounded":
            try:
                parse_interval(text)
            except ValueError as exc:
                raise ModelError(f"{where}: rolling_window: {exc}", file, line) from None
    return RollingWindow(trailing=window.trailing, leading=window.leading, offset=window.offset)


def _case_sql(case: _CaseDef) -> str:
    """A `case` dimension as SQL text (labels become string literals, `{sql}` labels SQL)."""
    def label(value: str | _CaseLabel) -> str:
        if isinstance(value, _CaseLabel):
            return value.sql
        return "'" + value.replace("'", "''") + "'"
    branches = " ".join(f"WHEN ({w.sql}) THEN {label(w.label)}" for w in case.when)
    otherwise = f" ELSE {label(case.else_.label)}" if case.else_ is not None else ""
    return f"CASE {branches}{otherwise} END"


def _check_join_keys(model: Model) -> None:
    """Cube refuses a join whose cubes aggregate rows but lack the primary key fan-out needs."""
    for cube in model.cubes.values():
        for join in cube.joins.values():
            for side in (cube, model.cubes[join.target]):
                aggregating = [m for m in side.measures.values()
                               if m.type in ("sum", "avg", "count", "number")]
                if aggregating and not side.primary_keys:
                    raise ModelError(
                        f"cube '{cube.name}' join '{join.target}': primary key for '{side.name}' "
                        "is required when join is defined in order to make aggregates work "
                        "properly", cube.file, cube.line)


def _build_view(definition: _ViewDef, raw: dict, file: str, model: Model) -> Cube:
    """A view: cube members re-exposed under the view's name, reached along fixed join paths."""
    name = definition.name
    title = definition.title or titleize(name)
    public = next((v for v in (definition.public, definition.shown) if v is not None), True)
    view = Cube(name=name, alias=underscore(name), title=title,
                description=definition.description, public=public, meta=definition.meta,
                sql_table=None, sql=None, file=file, line=getattr(raw, "line", None), kind="view",
                folders=[{"name": f.name, "members": [f"{name}.{m}" for m in f.includes]}
                         for f in definition.folders])
    for index, entry in enumerate(definition.cubes):
        where = line_of(raw, ("cubes", index))
        path = entry.join_path.split(".")
        for cube_name in path:
            if cube_name not in model.cubes or model.cubes[cube_name].kind != "cube":
                raise ModelError(f"view '{name}': join_path '{entry.join_path}' names unknown "
                                 f"cube '{cube_name}'", file, where)
        for owner, target in zip(path, path[1:]):
            if target not in model.cubes[owner].joins:
                raise ModelError(f"view '{name}': join_path '{entry.join_path}': cube '{owner}' "
                                 f"has no join to '{target}'", file, where)
        source = model.cubes[path[-1]]
        every = [*source.measures.values(), *source.dimensions.values(),
                 *source.segments.values()]
        if entry.includes == "*":
            chosen = [(m, _ViewMemberDef(name=m.name)) for m in every
                      if m.name not in entry.excludes]
        else:
            chosen = []
            for item in entry.includes:
                spec = item if isinstance(item, _ViewMemberDef) else _ViewMemberDef(name=item)
                member = source.member(spec.name)
                if member is None:
                    raise ModelError(f"view '{name}': member '{spec.name}' not found in cube "
                                     f"'{source.name}'", file, where)
                if spec.name not in entry.excludes:
                    chosen.append((member, spec))
        prefix = f"{entry.alias or source.name}_" if entry.prefix else ""
        for member, spec in chosen:
            member_name = prefix + (spec.alias or member.name)
            if view.member(member_name) is not None:
                raise ModelError(f"view '{name}': Included member '{member_name}' conflicts with "
                                 f"existing member of '{name}'. Please consider excluding this "
                                 "member.", file, where)
            explicit = member.short_title if member.short_title != titleize(member.name) else None
            short = spec.title or explicit or titleize(member_name)
            # Cube copies type, title, description, format, meta and granularities; not
            # visibility, primary keys, drill members or windows (the source computes those).
            alias = _replace(
                member, cube=name, name=member_name, title=f"{title} {short}", short_title=short,
                description=spec.description or member.description,
                format=spec.format if spec.format is not None else member.format,
                meta=spec.meta if spec.meta is not None else member.meta,
                public=public, primary_key=False, drill_members=(), drill_measures=(),
                rolling_window=None, alias_member=member.path, join_path=tuple(path),
                line=where)
            group = {"measure": view.measures, "dimension": view.dimensions,
                     "segment": view.segments}[member.kind]
            group[member_name] = alias
    return view


def _check_granularity(g: _GranularityDef, cube: str, dimension: str, file: str,
                       line: int | None) -> None:
    where = f"cube '{cube}' dimension '{dimension}' granularity '{g.name}'"
    try:
        interval = parse_interval(g.interval)
        if any(n < 0 for n, _ in interval):
            raise ValueError("an interval cannot be negative")
        if g.offset is not None:
            parse_interval(g.offset)
    except ValueError as exc:
        raise ModelError(f"{where}: {exc}", file, line) from None
    if g.offset is not None and g.origin is not None:
        raise ModelError(f"{where}: use either offset or origin, not both", file, line)
    if g.origin is not None:
        try:
            datetime.fromisoformat(g.origin.replace("Z", "+00:00"))
        except ValueError:
            raise ModelError(f"{where}: origin '{g.origin}' is not an ISO-8601 date or time",
                             file, line) from None
    elif not is_natural_interval(interval):
        raise ModelError(f"{where}: Arbitrary intervals cannot be used without origin point "
                         "specified", file, line)


def _check_references(model: Model) -> None:
    """Resolve `{name}` references and fail on any that point nowhere."""
    for cube in model.cubes.values():
        for join in cube.joins.values():
            if join.target not in model.cubes:
                raise ModelError(f"cube '{cube.name}' join '{join.target}': Cube "
                                 f"{join.target} doesn't exist", cube.file, cube.line)
            object.__setattr__(join, "sql", _resolve(join.sql, cube, model, None))
        if cube.sql is not None:
            cube.sql = _resolve(cube.sql, cube, model, None)
        for group in (cube.measures, cube.dimensions, cube.segments):
            for member in list(group.values()):
                changes: dict[str, Any] = {}
                if member.sql is not None:
                    changes["sql"] = _resolve(member.sql, cube, model, member)
                if member.filters:
                    changes["filters"] = tuple(_resolve(f, cube, model, member)
                                               for f in member.filters)
                for drill in member.drill_members:
                    _resolve_path(drill, cube, model, member)
                drill_measures = tuple(d for d in member.drill_members
                                       if model.cubes[d.split(".")[0]].member(d.split(".")[1]).kind
                                       == "measure")
                if drill_measures:
                    changes["drill_measures"] = drill_measures
                if changes:
                    group[member.name] = _replace(member, **changes)
    for cube in model.cubes.values():
        for group in (cube.measures, cube.dimensions, cube.segments):
            for member in group.values():
                _check_cycles(model, member, ())


def _replace(member: Member, **changes: Any) -> Member:
    values = {f: getattr(member, f) for f in member.__dataclass_fields__}
    values.update(changes)
    return Member(**values)


def _resolve(template: Template, cube: Cube, model: Model, member: Member | None) -> Template:
    parts: list[TemplatePart] = []
    for part in template.parts:
        if isinstance(part, MemberRef):
            if part.cube == "":
                if part.name in model.cubes:
                    part = CubeRef(part.name)  # type: ignore[assignment]
                else:
                    part = MemberRef(cube.name, part.name)
            if isinstance(part, MemberRef):
                _resolve_path(f"{part.cube}.{part.name}", cube, model, member)
        parts.append(part)
    foreign = sorted({p.cube for p in parts if isinstance(p, CubeRef) and p.cube != cube.name})
    if member is not None and foreign:
        # A member may reach other cubes only through their members, which joins them.
        raise ModelError(f"Member '{member.path}' references foreign cubes: {', '.join(foreign)}. "
                         "Please split and move this definition to corresponding cubes.",
                         cube.file, member.line)
    return Template(tuple(parts), template.source)


def _resolve_path(path: str, cube: Cube, model: Model, member: Member | None) -> None:
    cube_name, _, name = path.partition(".")
    owner = f" {member.kind} '{member.name}'" if member else ""
    target = model.cubes.get(cube_name)
    if target is None or target.member(name) is None:
        raise ModelError(f"cube '{cube.name}'{owner}: reference to missing member '{path}'",
                         cube.file, member.line if member else cube.line)


def _check_cycles(model: Model, member: Member, seen: tuple[str, ...]) -> None:
    if member.path in seen:
        cube = model.cubes[member.cube]
        raise ModelError(f"cube '{member.cube}' {member.kind} '{member.name}': circular reference "
                         + " -> ".join(seen + (member.path,)), cube.file, member.line)
    templates = ([member.sql] if member.sql else []) + list(member.filters)
    for template in templates:
        for ref in template.references():
            referenced = model.cubes[ref.cube].member(ref.name)
            if referenced is not None:
                _check_cycles(model, referenced, seen + (member.path,))
