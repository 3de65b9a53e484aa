"""The `/v1/meta` document: every visible cube and member, as Cube describes them.

Cubes with no visible member are left out; primary keys are hidden unless made public.
`extended=True` adds the model SQL, file name and joins, as Cube's `?extended=true` does.
"""

from __future__ import annotations

from typing import Any

from engine.model import RELATIONSHIP_META_NAMES, Cube, Member, Model, titleize
from .formats import format_description, reported_format

def _camel(name: str) -> str:
    """`count_distinct` -> `countDistinct`, Cube's aggType spelling."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def value_type(member: Member) -> str:
    """The data type a member's values have (aggregating measures are numbers)."""
    if member.kind == "measure" and member.type not in ("string", "time", "boolean"):
        return "number"
    return member.type


def _common(member: Member, out: dict, extended: bool) -> None:
    if member.alias_member:
        out["aliasMember"] = member.alias_member
    if member.description:
        out["description"] = member.description
    reported = reported_format(member.kind, value_type(member), member.format)
    if reported is not None:
        out["format"] = reported
    description = format_description(member.kind, value_type(member), reported)
    if description is not None:
        out["formatDescription"] = description
    if member.meta is not None:
        out["meta"] = member.meta


def measure_meta(member: Member, extended: bool = False) -> dict:
    out: dict[str, Any] = {"name": member.path, "title": member.title,
                           "shortTitle": member.short_title}
    _common(member, out, extended)
    out.update({
        "cumulativeTotal": member.rolling_window is not None,
        "cumulative": member.rolling_window is not None, "type": value_type(member),
        "aggType": _camel(member.type),
        "drillMembers": list(member.drill_members),
        "drillMembersGrouped": member.drill_members_grouped(),
        "isVisible": member.public, "public": member.public,
    })
    if extended and member.sql is not None:
        out["sql"] = member.sql.js_source
    if extended and member.filters:
        out["filters"] = [{"sql": f.js_source} for f in member.filters]
    return out


def dimension_meta(member: Member, extended: bool = False) -> dict:
    out: dict[str, Any] = {"name": member.path, "title": member.title, "type": member.type,
                           "shortTitle": member.short_title,
                           "suggestFilterValues": member.suggest_filter_values}
    _common(member, out, extended)
    out.update({"isVisible": member.public, "public": member.public,
                "primaryKey": member.primary_key})
    if member.granularities:
        out["granularities"] = [
            {k: v for k, v in {"name": g.name, "title": g.title or titleize(g.name),
                               "interval": g.interval,
                               "offset": g.offset, "origin": g.origin}.items() if v is not None}
            for g in member.granularities]
    if extended and member.sql is not None:
        out["sql"] = member.sql.js_source
    return out


def segment_meta(member: Member, extended: bool = False) -> dict:
    out: dict[str, Any] = {"name": member.path, "title": member.title,
                           "shortTitle": member.short_title}
    _common(member, out, extended)
    out.update({"isVisible": member.public, "public": member.public})
    if extended and member.sql is not None:
        out["sql"] = member.sql.js_source
    return out


def cube_meta(cube: Cube, component: int | None, extended: bool = False) -> dict | None:
    measures = [measure_meta(m, extended) for m in cube.measures.values() if m.public]
    dimensions = [dimension_meta(d, extended) for d in cube.dimensions.values() if d.public]
    segments = [segment_meta(s, extended) for s in cube.segments.values() if s.public]
    if not (measures or dimensions or segments):
        return None
    out: dict[str, Any] = {"name": cube.name, "type": cube.kind, "title": cube.title,
                           "isVisible": cube.public, "public": cube.public}
    if cube.description:
        out["description"] = cube.description
    if component is not None:
        out["connectedComponent"] = component
    if cube.meta is not None:
        out["meta"] = cube.meta
    out.update({"measures": measures, "dimensions": dimensions, "segments": segments,
                "hierarchies": [{**h, "name": f"{cube.name}.{h['name']}"} for h in cube.hierarchies],
                "folders": cube.folders,
                "nestedFolders": cube.nested_folders})
    if extended:
        out["fileName"] = cube.file
        out["joins"] = [{"name": j.target,
                         "relationship": RELATIONSHIP_META_NAMES[j.relationship],
                         "sql": j.sql.js_source} for j in cube.joins.values()]
        out["preAggregations"] = []
    return out


def build_meta(model: Model, extended: bool = False) -> dict:
    """Cube's `/v1/meta` body for `model`."""
    components = model.connected_components()
    cubes = [cube_meta(cube, components.get(name), extended) for name, cube in model.cubes.items()]
    return {"cubes": [c for c in cubes if c is not None]}
