"""Cube YAML models -> a validated, immutable `Model`.

Reads every `*.yml` / `*.yaml` below a directory, checks it against Cube's model schema (unknown keys,
bad types, duplicate members, missing references) and fails with `ModelError` naming the file, line
and member. The result only describes the model; turning member SQL into query SQL is `engine.compile.sql`'s job.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "a.yml").write_text("cubes:\\n  - name: A\\n    sql_table: a\\n    measures:\\n      - name: count\\n        type: count\\n")
>>> load_model(d).cubes["A"].measures["count"].path
'A.count'
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.errors import ModelError
from .naming import titleize, underscore
from .types import (DIMENSION_TYPES, MEASURE_TYPES, RELATIONSHIPS, Cube, CubeRef, Granularity, Join,
                    Member, MemberRef, Model, RollingWindow, Template, TemplatePart,
                    is_natural_interval, parse_interval, parse_template)
from .yaml_lines import LineDict, line_of, load_yaml

# ---------------------------------------------------------------------------------------------
# The YAML schema (snake_case keys, as Cube's YAML compiler accepts them)

Identifier = Field(pattern=r"^[_a-zA-Z][_a-zA-Z0-9]*$")

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
            return parse_template(sql, name, auto_prefix=auto_prefix)
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
