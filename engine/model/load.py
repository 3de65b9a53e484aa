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

import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.errors import ModelError
from .naming import titleize, underscore
from .types import (DIMENSION_TYPES, MEASURE_TYPES, MULTI_STAGE_MEASURE_TYPES, RELATIONSHIPS, Cube, CubeRef, Granularity, Join,
                    Member, MemberRef, Model, RollingWindow, Template, TemplatePart,
                    is_natural_interval, parse_interval, parse_template)
from .yaml_lines import LineDict, line_of, load_yaml

log = logging.getLogger("duckcube")

# ---------------------------------------------------------------------------------------------
# The YAML schema (snake_case keys, as Cube's YAML compiler accepts them)

Identifier = Field(pattern=r"^[_a-zA-Z][_a-zA-Z0-9]*$")

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _FilterDef(_Strict):
    sql: str


class _GranularityDef(_Strict):
    name: str = Identifier
    interval: str | None = None
    offset: str | None = None
    origin: str | None = None
    title: str | None = None
    sql: str | None = None  # a granularity computed by SQL (accepted, not run)


class _TimeShiftDef(_Strict):
    """A multi-stage measure's or a calendar dimension's `time_shift` item (accepted, not run)."""
    time_dimension: str | None = None
    interval: str | None = None
    type: Literal["next", "prior"] | None = None
    name: str | None = None
    sql: str | None = None


class _OrderByDef(_Strict):
    sql: str
    dir: Literal["asc", "desc"] | None = None


ROLLING_WINDOW_TYPES = ("fixed", "to_date", "year_to_date", "quarter_to_date", "month_to_date")


class _MeasureDef(_Strict):
    name: str = Identifier
    type: Literal[MEASURE_TYPES + MULTI_STAGE_MEASURE_TYPES]  # type: ignore[valid-type]
    sql: str | int | None = None
    title: str | None = None
    description: str | None = None
    public: bool | None = None
    shown: bool | None = None
    visible: bool | None = None
    filters: list[_FilterDef] = []
    format: Union[str, dict] | None = None
    drill_members: list[str] = []
    meta: Any = None
    rolling_window: "_RollingWindowDef | None" = None
    cumulative: bool | None = None
    aliases: list[str] | None = None
    drill_filters: list[_FilterDef] | None = None
    # Multi-stage (Tesseract) options: accepted, refused when the measure is queried.
    multi_stage: bool | None = None
    group_by: list[str] | None = None
    reduce_by: list[str] | None = None
    add_group_by: list[str] | None = None
    time_shift: list[_TimeShiftDef] | None = None
    order_by: list[_OrderByDef] | None = None


class _RollingWindowDef(_Strict):
    trailing: str | None = None
    leading: str | None = None
    offset: Literal["start", "end"] = "end"
    type: Literal[ROLLING_WINDOW_TYPES] = "fixed"  # type: ignore[valid-type]
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


class _SqlDef(_Strict):
    sql: str | int


class _DimensionDef(_Strict):
    name: str = Identifier
    type: Literal[DIMENSION_TYPES]  # type: ignore[valid-type]
    sql: str | int | None = None
    case: _CaseDef | None = None
    latitude: _SqlDef | None = None
    longitude: _SqlDef | None = None
    sub_query: bool = False
    propagate_filters_to_sub_query: bool = False
    primary_key: bool = False
    public: bool | None = None
    shown: bool | None = None
    title: str | None = None
    description: str | None = None
    format: Union[str, dict] | None = None
    meta: Any = None
    suggest_filter_values: bool | None = None
    enable_suggestions: bool | None = None
    granularities: list[_GranularityDef] = []
    aliases: list[str] | None = None
    field_type: Literal["string"] | None = None
    values_as_segments: bool | None = None
    multi_stage: bool | None = None
    add_group_by: list[str] | None = None
    time_shift: list[_TimeShiftDef] | None = None


class _SegmentDef(_Strict):
    name: str = Identifier
    sql: str
    title: str | None = None
    description: str | None = None
    public: bool | None = None
    shown: bool | None = None
    meta: Any = None
    aliases: list[str] | None = None


class _JoinDef(_Strict):
    name: str = Identifier
    relationship: Literal[tuple(RELATIONSHIPS)]  # type: ignore[valid-type]
    sql: str


class _HierarchyDef(_Strict):
    name: str = Identifier
    title: str | None = None
    public: bool | None = None
    levels: list[str] = []


POLICY_OPERATORS = (
    "equals", "notEquals", "contains", "notContains", "startsWith", "notStartsWith", "endsWith",
    "notEndsWith", "in", "notIn", "gt", "gte", "lt", "lte", "set", "notSet", "inDateRange",
    "notInDateRange", "onTheDate", "beforeDate", "beforeOrOnDate", "afterDate", "afterOrOnDate",
    "measureFilter")


class _PolicyFilterDef(_Strict):
    member: str | None = None
    operator: Literal[POLICY_OPERATORS] | None = None  # type: ignore[valid-type]
    values: Any = None
    or_: list["_PolicyFilterDef"] | None = Field(default=None, alias="or")
    and_: list["_PolicyFilterDef"] | None = Field(default=None, alias="and")


class _MemberLevelDef(_Strict):
    includes: Union[Literal["*"], list[str]] | None = None
    excludes: Union[Literal["*"], list[str]] | None = None


class _RowLevelDef(_Strict):
    filters: list[_PolicyFilterDef] | None = None
    allow_all: bool | None = None


class _ConditionDef(_Strict):
    if_: Any = Field(alias="if")


class _AccessPolicyDef(_Strict):
    role: str | None = None
    group: str | None = None
    groups: list[str] | None = None
    member_level: _MemberLevelDef | None = None
    row_level: _RowLevelDef | None = None
    conditions: list[_ConditionDef] | None = None


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
    meta: Any = None
    data_source: str | None = None
    refresh_key: dict | None = None
    rewrite_queries: bool | None = None
    calendar: bool | None = None
    joins: list[_JoinDef] = []
    measures: list[_MeasureDef] = []
    dimensions: list[_DimensionDef] = []
    segments: list[_SegmentDef] = []
    hierarchies: list[_HierarchyDef] = []
    access_policy: list[_AccessPolicyDef] | None = None
    # Accepted so real-world models load; the engine does not use pre-aggregations.
    pre_aggregations: list[dict] = []


class _ViewMemberDef(_Strict):
    name: str
    alias: str | None = None
    title: str | None = None
    description: str | None = None
    format: Union[str, dict] | None = None
    meta: Any = None


class _ViewCubeDef(_Strict):
    join_path: str
    includes: Union[Literal["*"], list[Union[str, _ViewMemberDef]]] = []
    excludes: list[str] = []
    prefix: bool = False
    split: bool | None = None
    alias: str | None = None


class _FolderDef(_Strict):
    name: str
    includes: Union[Literal["*"], list[Union[str, "_FolderDef"]]] = []


class _ViewDef(_Strict):
    name: str = Identifier
    title: str | None = None
    description: str | None = None
    public: bool | None = None
    shown: bool | None = None
    meta: Any = None
    sql_alias: str | None = None
    data_source: str | None = None
    refresh_key: dict | None = None
    rewrite_queries: bool | None = None
    cubes: list[_ViewCubeDef] = []
    folders: list[_FolderDef] = []
    hierarchies: list[_HierarchyDef] = []
    access_policy: list[_AccessPolicyDef] | None = None
    pre_aggregations: list[dict] = []


_MeasureDef.model_rebuild()
_FolderDef.model_rebuild()
_PolicyFilterDef.model_rebuild()


class _ModelFile(_Strict):
    cubes: list[_CubeDef] = []
    views: list[_ViewDef] = []


MODEL_SUFFIXES = (".yml", ".yaml", ".js")


def is_model_file(path: Path) -> bool:
    """A file Cube reads as a model: YAML, YAML-with-Jinja (`x.yml.jinja`) or JavaScript."""
    if path.suffix == ".jinja":
        return Path(path.stem).suffix in (".yml", ".yaml")
    return path.suffix in MODEL_SUFFIXES


def load_model(directory: str | Path, compile_context: dict | None = None) -> Model:
    """Load and validate every model file below `directory` (sorted by path): YAML, Jinja
    templated YAML (with the Python helpers of `globals.py` beside them) and JavaScript.

    `compile_context` is what templates see as `COMPILE_CONTEXT` (default
    `{"securityContext": {}}`)."""
    root = Path(directory)
    if not root.is_dir():
        raise ModelError(f"model directory not found: {root}")
    files = sorted(p for p in root.rglob("*") if is_model_file(p) and p.is_file()
                   and "node_modules" not in p.relative_to(root).parts)
    helpers = root / "globals.py"
    texts = {path: path.read_text() for path in files if path.suffix != ".js"}
    needs_jinja = helpers.is_file() or any(
        path.suffix == ".jinja" or "{" in text and _looks_jinja(text)
        for path, text in texts.items())
    documents: list[tuple[Any, str]] = []
    if needs_jinja:
        from . import jinja
        with jinja.cube_module(root if helpers.is_file() else None):
            contexts = (jinja.template_contexts(jinja.run_python_file(helpers, "globals.py"))
                        if helpers.is_file() else [])
            renderer = jinja.JinjaModels(contexts, compile_context)
            for path, text in texts.items():
                shown = _shown(path, root)
                if jinja.is_jinja(path, text):
                    text = renderer.render(text, shown)
                documents.append((parse_yaml_document(text, shown), shown))
    else:
        documents = [(parse_yaml_document(text, _shown(path, root)), _shown(path, root))
                     for path, text in texts.items()]
    scripts = [path for path in files if path.suffix == ".js"]
    if scripts:
        from .js import load_js_models
        documents += load_js_models(root, scripts, compile_context)
    return build_model(documents, root)


def _looks_jinja(text: str) -> bool:
    return "{%" in text or "{{" in text or "{#" in text


def _shown(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def build_model(documents: list[tuple[Any, str]], root: Path | None = None) -> Model:
    """A validated `Model` from model documents: `({"cubes": [...], "views": [...]}, file)`
    pairs, as YAML files parse (mappings may be `LineDict`s carrying line numbers).

    Keys the engine accepts but does not run are logged once (logger `duckcube`, WARNING) and
    kept in `Model.warnings`."""
    cube_sources: list[_Source] = []
    view_sources: list[_Source] = []
    for document, shown in documents:
        cubes_here, views_here = _sources(document, shown)
        cube_sources += cubes_here
        view_sources += views_here
    notes = _Notes()
    cubes: dict[str, Cube] = {}
    for raw, file in _apply_extends(cube_sources):
        cube = _build_cube(_validated(_CubeDef, raw, file), raw, file, notes)
        _add_unique(cubes, cube)
    model = Model(cubes=cubes, directory=root)
    _check_references(model)
    _check_join_keys(model)
    for raw, file in view_sources:
        _add_unique(model.cubes, _build_view(_validated(_ViewDef, raw, file), raw, file, model,
                                             notes))
    model.warnings = tuple(notes.lines)
    for line in notes.lines:
        log.warning("%s", line)
    return model


class _Notes:
    """The accepted-but-not-run keys met while building a model, one line each."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, file: str, line: int | None, owner: str, key: str, reason: str) -> None:
        where = f"{file}:{line}" if line else file
        text = f"{where}: {owner}: `{key}` is accepted but not run: {reason}"
        if text not in self.lines:
            self.lines.append(text)


# What the engine does not do for a key it accepts (the warning's reason).
_NOT_RUN = {
    "pre_aggregations": "pre-aggregations are not built; queries read the cube's own SQL",
    "access_policy": "access policies are not enforced; every caller sees every member and row",
    "calendar": "calendar cubes' custom time shifts are not applied",
    "rewrite_queries": "queries are not rewritten",
    "aliases": "member aliases are not resolved in queries",
    "drill_filters": "drill filters are not reported",
    "field_type": "it is not used",
    "values_as_segments": "it is not used",
    "enable_suggestions": "it is not used (suggest_filter_values is)",
    "time_shift": "time shifts are not applied",
    "multi_stage": "multi-stage members are refused when queried",
    "granularities.sql": "SQL-defined granularities are not offered to queries",
    "split": "split views are served as one view",
    "refresh_key": "a view's results are cached by its cubes' refresh keys",
}


_Source = tuple[dict, str]  # a cube's or view's YAML mapping, and its file


def _add_unique(cubes: dict[str, Cube], cube: Cube) -> None:
    if cube.name in cubes:
        raise ModelError(f"cube '{cube.name}' is defined twice (also in {cubes[cube.name].file})",
                         cube.file, cube.line)
    cubes[cube.name] = cube


def parse_yaml_document(text: str, shown: str) -> Any:
    """YAML model text -> its document (`LineDict`s), or ModelError naming the line."""
    try:
        return load_yaml(text)
    except Exception as exc:  # yaml reports its own line
        mark = getattr(exc, "problem_mark", None)
        raise ModelError(f"invalid YAML: {getattr(exc, 'problem', exc)}", shown,
                         mark.line + 1 if mark else None) from None


def _sources(document: Any, shown: str) -> tuple[list[_Source], list[_Source]]:
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
            if key in ("measures", "dimensions", "segments", "joins", "hierarchies",
                       "pre_aggregations") and key in parent:
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


def _build_cube(definition: _CubeDef, raw: dict, file: str, notes: _Notes) -> Cube:
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
    owner = f"cube '{name}'"
    for key in ("pre_aggregations", "access_policy", "calendar", "rewrite_queries"):
        if getattr(definition, key):
            notes.add(file, line_of(raw, (key,)), owner, key, _NOT_RUN[key])

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

    def unrun(member: Any, kind: str, where: tuple, keys: tuple[str, ...]) -> None:
        for key in keys:
            if getattr(member, key, None) not in (None, False, []):
                notes.add(file, line_of(raw, where), f"{owner} {kind} '{member.name}'", key,
                          _NOT_RUN[key])

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
        unrun(m, "measure", where, ("aliases", "drill_filters", "multi_stage"))
        if m.type in MULTI_STAGE_MEASURE_TYPES and not m.multi_stage:
            raise ModelError(f"cube '{name}' measure '{m.name}': type '{m.type}' needs "
                             "`multi_stage: true`", file, line_of(raw, where))
        if m.sql is None and m.type not in ("count",) and not m.multi_stage:
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
            rolling_window=window, multi_stage=bool(m.multi_stage),
        )
    for index, d in enumerate(definition.dimensions):
        where = ("dimensions", index)
        unrun(d, "dimension", where, ("aliases", "field_type", "values_as_segments",
                                      "enable_suggestions", "multi_stage", "time_shift"))
        geo = d.latitude is not None or d.longitude is not None
        if geo and (d.latitude is None or d.longitude is None or d.sql is not None
                    or d.case is not None):
            raise ModelError(f"cube '{name}' dimension '{d.name}': a geo dimension needs both "
                             "`latitude` and `longitude` (and no `sql` or `case`)",
                             file, line_of(raw, where))
        if not geo and (d.sql is None) == (d.case is None):
            raise ModelError(f"cube '{name}' dimension '{d.name}': needs either `sql` or `case`",
                             file, line_of(raw, where))
        if d.granularities and d.type != "time":
            raise ModelError(
                f"cube '{name}' dimension '{d.name}': granularities need a time dimension",
                file, line_of(raw, where))
        granularities = []
        for g_index, g in enumerate(d.granularities):
            g_where = where + ("granularities", g_index)
            if g.sql is not None:
                notes.add(file, line_of(raw, g_where),
                          f"{owner} dimension '{d.name}' granularity '{g.name}'", "sql",
                          _NOT_RUN["granularities.sql"])
                continue
            _check_granularity(g, name, d.name, file, line_of(raw, g_where))
            granularities.append(Granularity(name=g.name, interval=g.interval,  # type: ignore
                                             offset=g.offset, origin=g.origin, title=g.title))
        if geo:
            latitude = template(d.latitude.sql, where)  # type: ignore[union-attr]
            longitude = template(d.longitude.sql, where)  # type: ignore[union-attr]
            # Cube reports a geo value as "latitude,longitude" text.
            sql = Template(latitude.parts + (" || ',' || ",) + longitude.parts,
                           f"{latitude.source} || ',' || {longitude.source}")
        elif d.case is not None:
            sql = template(_case_sql(d.case), where, auto_prefix=False)
        else:
            sql = template(d.sql, where)  # type: ignore[arg-type]
        member_title = d.title or titleize(d.name)
        cube.dimensions[d.name] = Member(
            cube=name, name=d.name, kind="dimension", type=d.type,
            sql=sql,
            title=f"{cube_title} {member_title}",
            short_title=member_title, description=d.description,
            # Primary keys are hidden unless the model makes them public.
            public=visible(d, default=not d.primary_key), meta=d.meta, format=d.format,
            line=line_of(raw, where), primary_key=d.primary_key, sub_query=d.sub_query,
            granularities=tuple(granularities),
            suggest_filter_values=d.suggest_filter_values is not False,
            multi_stage=bool(d.multi_stage),
        )
    for index, s in enumerate(definition.segments):
        where = ("segments", index)
        unrun(s, "segment", where, ("aliases",))
        member_title = s.title or titleize(s.name)
        cube.segments[s.name] = Member(
            cube=name, name=s.name, kind="segment", type="segment",
            sql=template(s.sql, where), title=f"{cube_title} {member_title}",
            short_title=member_title, description=s.description, public=visible(s),
            meta=s.meta, format=None, line=line_of(raw, where),
        )
    cube.hierarchies = _hierarchies(definition.hierarchies, cube, raw, file)
    return cube


def _hierarchies(definitions: list, cube: Cube, raw: dict, file: str) -> list[dict]:
    """A cube's `hierarchies` as /meta reports them: levels are `Cube.dimension` paths."""
    out: list[dict] = []
    seen: set[str] = set()
    for index, h in enumerate(definitions):
        where = line_of(raw, ("hierarchies", index))
        if h.name in seen:
            raise ModelError(f"Duplicate hierarchy name '{h.name}' in cube '{cube.name}'",
                             file, where)
        seen.add(h.name)
        levels = []
        for level in h.levels:
            owner, _, member = level.rpartition(".")
            if owner not in ("", cube.name, "CUBE"):
                raise ModelError(f"cube '{cube.name}' hierarchy '{h.name}': level '{level}' "
                                 "is not a dimension of this cube", file, where)
            if member not in cube.dimensions:
                what = "not found" if cube.member(member) is None else "not a dimension"
                raise ModelError(f"cube '{cube.name}' hierarchy '{h.name}': level '{level}' "
                                 f"is {what}", file, where)
            levels.append(f"{cube.name}.{member}")
        entry: dict[str, Any] = {"name": h.name}
        if h.title is not None:
            entry["title"] = h.title
        entry["levels"] = levels
        entry["public"] = True if h.public is None else h.public
        out.append(entry)
    return out


def _rolling_window(m: _MeasureDef, cube: str, file: str, line: int | None) -> RollingWindow | None:
    where = f"cube '{cube}' measure '{m.name}'"
    if m.type == "running_total":
        return RollingWindow(trailing="unbounded", from_range_start=True)
    window = m.rolling_window
    if window is None:
        return None
    if window.type in ("year_to_date", "quarter_to_date", "month_to_date"):
        return RollingWindow(to_date=window.type.split("_")[0])
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


def _build_view(definition: _ViewDef, raw: dict, file: str, model: Model,
                notes: _Notes | None = None) -> Cube:
    """A view: cube members re-exposed under the view's name, reached along fixed join paths."""
    notes = notes or _Notes()
    name = definition.name
    title = definition.title or titleize(name)
    public = next((v for v in (definition.public, definition.shown) if v is not None), True)
    view = Cube(name=name, alias=definition.sql_alias or underscore(name), title=title,
                description=definition.description, public=public, meta=definition.meta,
                sql_table=None, sql=None, file=file, line=getattr(raw, "line", None), kind="view")
    for key in ("pre_aggregations", "access_policy", "rewrite_queries", "refresh_key"):
        if getattr(definition, key):
            notes.add(file, line_of(raw, (key,)), f"view '{name}'", key, _NOT_RUN[key])
    # Hierarchies the view includes by name: (source hierarchy, the source cube).
    included_hierarchies: list[tuple[dict, Cube]] = []
    for index, entry in enumerate(definition.cubes):
        where = line_of(raw, ("cubes", index))
        if entry.split:
            notes.add(file, where, f"view '{name}'", "split", _NOT_RUN["split"])
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
                hierarchy = next((h for h in source.hierarchies if h["name"] == spec.name), None)
                if member is None and hierarchy is not None:
                    included_hierarchies.append((hierarchy, source))
                    continue
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
    by_source = {m.alias_member: m.name for group in (view.measures, view.dimensions)
                 for m in group.values()}
    view.hierarchies = _view_hierarchies(definition, view, raw, file, by_source,
                                         included_hierarchies)
    view.nested_folders, view.folders = _folders(definition.folders, view, raw, file)
    return view


def _view_hierarchies(definition: _ViewDef, view: Cube, raw: dict, file: str,
                      by_source: dict, included: list[tuple[dict, Cube]]) -> list[dict]:
    """A view's hierarchies: its own (levels naming its members or their source members) and
    those of its cubes it includes by name, levels kept only where the view includes them."""
    out: list[dict] = []
    for index, h in enumerate(definition.hierarchies):
        levels = []
        for level in h.levels:
            if level in by_source:
                levels.append(f"{view.name}.{by_source[level]}")
            elif level.rpartition(".")[2] in view.dimensions and "." not in level.replace(
                    f"{view.name}.", "", 1):
                levels.append(f"{view.name}.{level.rpartition('.')[2]}")
            else:
                raise ModelError(f"view '{view.name}' hierarchy '{h.name}': level '{level}' is "
                                 "not a dimension of this view", file,
                                 line_of(raw, ("hierarchies", index)))
        entry: dict[str, Any] = {"name": h.name}
        if h.title is not None:
            entry["title"] = h.title
        entry.update({"levels": levels, "public": True if h.public is None else h.public})
        out.append(entry)
    for hierarchy, _source in included:
        levels = [f"{view.name}.{by_source[level]}" for level in hierarchy["levels"]
                  if level in by_source]
        if levels:
            out.append({**hierarchy, "levels": levels})
    return out


def _folders(definitions: list, view: Cube, raw: dict, file: str) -> tuple[list, list]:
    """A view's folders as /meta reports them: `nestedFolders` keeps sub-folders, `folders`
    lists each top folder with every member below it (sub-folders merged, as Cube does with its
    default empty CUBEJS_NESTED_FOLDERS_DELIMITER)."""
    every = [*view.measures, *view.dimensions, *view.segments]

    def walk(folder: Any, index: int) -> tuple[dict, list[str]]:
        names = every if folder.includes == "*" else folder.includes
        members: list = []
        flat: list[str] = []
        for item in names:
            if isinstance(item, _FolderDef):
                nested, below = walk(item, index)
                members.append(nested)
                flat.extend(below)
                continue
            if "." in item:
                raise ModelError(f"Paths aren't allowed in the 'folders' but '{item}' has been "
                                 f"provided for {view.name}", file,
                                 line_of(raw, ("folders", index)))
            if view.member(item) is None:
                raise ModelError(f"Member '{item}' included in folder '{folder.name}' not found",
                                 file, line_of(raw, ("folders", index)))
            members.append(f"{view.name}.{item}")
            flat.append(f"{view.name}.{item}")
        return {"name": folder.name, "members": members}, flat

    nested_folders, flat_folders = [], []
    for index, folder in enumerate(definitions):
        nested, flat = walk(folder, index)
        nested_folders.append(nested)
        flat_folders.append({"name": folder.name, "members": list(dict.fromkeys(flat))})
    return nested_folders, flat_folders


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
