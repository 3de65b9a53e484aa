"""Cube's GraphQL API (`/cubejs-api/graphql`), generated from the model's visible members.

    query {
      cube(limit: 100, where: {orders: {status: {equals: "completed"}}},
           orderBy: {orders: {count: desc}}) {
        orders { count status createdAt { month } }
      }
    }
    -> {"data": {"cube": [{"orders": {"count": 12, "status": "completed",
                                       "createdAt": {"month": "2024-01-01T00:00:00.000Z"}}}]},
        "extensions": {"annotation": {...}, "lastRefreshTime": "..."}}

As Cube builds it (`packages/cubejs-api-gateway/src/graphql.ts`): one `<Cube>Members` type per
cube with members (measures `Float` when numeric, dimensions `String` / `Float` /
`TimeDimension {value second minute hour day week month quarter year}`), `<Cube>WhereInput`
(`StringFilter`, `FloatFilter`, `DateTimeFilter`, `AND` / `OR`), `<Cube>OrderByInput` (`asc` /
`desc`), and the root field `cube(where, orderBy, limit, offset, timezone, renewQuery, cache,
ungrouped): [Result!]!`. The selection becomes a Cube JSON query (`json_query`) that runs through
`Engine.load`; time values come back as UTC ISO instants with `Z`, numbers as GraphQL Floats
(printed like JavaScript: `12`, not `12.0`).

Errors: a query that does not parse or validate answers 400 with `errors` (as express-graphql);
a Cube error while loading answers 400 with `{"errors": [{"message": <Cube's error>}],
"data": null}`; "Continue wait" answers 200 with that message so a client can ask again (Cube
answers 500 for both, express-graphql's status for a null `data`).
"""

from __future__ import annotations

import json
import math
import re
import threading
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from graphql import (GraphQLArgument, GraphQLBoolean, GraphQLEnumType, GraphQLError,
                     GraphQLField, GraphQLFloat, GraphQLInputField, GraphQLInputObjectType,
                     GraphQLInt, GraphQLList, GraphQLNonNull, GraphQLObjectType,
                     GraphQLResolveInfo, GraphQLScalarType, GraphQLSchema, GraphQLString,
                     FieldNode, parse, validate, execute)
from graphql.language import ast as gast

from flask import Blueprint, Response, request

from engine.errors import CubeError

from .auth import Auth
from .http import json_response, log, request_params
from .tenants import Tenants

# --- the fixed types ------------------------------------------------------------------------

DateTime = GraphQLScalarType(
    "DateTime",
    description="A date-time string at UTC, such as 2007-12-03T10:15:30.000Z",
    serialize=lambda value: value)

StringFilter = GraphQLInputObjectType("StringFilter", lambda: {
    **{name: GraphQLInputField(GraphQLString) for name in ("equals", "notEquals")},
    **{name: GraphQLInputField(GraphQLList(GraphQLString))
       for name in ("in", "notIn", "contains", "notContains", "startsWith", "notStartsWith",
                    "endsWith", "notEndsWith")},
    "set": GraphQLInputField(GraphQLBoolean),
})

FloatFilter = GraphQLInputObjectType("FloatFilter", lambda: {
    **{name: GraphQLInputField(GraphQLFloat)
       for name in ("equals", "notEquals", "gt", "lt", "gte", "lte")},
    **{name: GraphQLInputField(GraphQLList(GraphQLFloat)) for name in ("in", "notIn")},
    "set": GraphQLInputField(GraphQLBoolean),
})

DateTimeFilter = GraphQLInputObjectType("DateTimeFilter", lambda: {
    **{name: GraphQLInputField(GraphQLList(GraphQLString))
       for name in ("equals", "notEquals", "in", "notIn", "inDateRange", "notInDateRange")},
    **{name: GraphQLInputField(GraphQLString)
       for name in ("beforeDate", "beforeOrOnDate", "afterDate", "afterOrOnDate")},
    "set": GraphQLInputField(GraphQLBoolean),
})

OrderBy = GraphQLEnumType("OrderBy", {"asc": "asc", "desc": "desc"})

TIME_FIELDS = ("value", "second", "minute", "hour", "day", "week", "month", "quarter", "year")
TimeDimension = GraphQLObjectType("TimeDimension", lambda: {
    name: GraphQLField(DateTime) for name in TIME_FIELDS})


def _output_type(kind: str) -> Any:
    return {"time": TimeDimension, "number": GraphQLFloat}.get(kind, GraphQLString)


def _filter_type(kind: str) -> GraphQLInputObjectType:
    return {"time": DateTimeFilter, "number": FloatFilter}.get(kind, StringFilter)


def type_name(cube: str) -> str:
    """inflection's `camelize(name, false)`: `tracked_events` -> `TrackedEvents`."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_/]", cube) if part)


def field_name(cube: str) -> str:
    return cube[:1].lower() + cube[1:]


def _short(member: str) -> str:
    return "".join(member.split(".")[1:])


# --- the schema -------------------------------------------------------------------------------


class CubeSchema:
    """The GraphQL schema of one model's meta, and what it needs to turn selections into queries."""

    def __init__(self, meta: dict):
        self.cubes: dict[str, dict] = {}      # GraphQL field name -> meta cube
        self.kinds: dict[str, str] = {}       # "Cube.member" -> "measures" | "dimensions"
        self._where: dict[str, GraphQLInputObjectType] = {}
        result_fields: dict[str, GraphQLField] = {}
        where_fields: dict[str, GraphQLInputField] = {}
        order_fields: dict[str, GraphQLInputField] = {}
        for cube in meta.get("cubes", []):
            if cube.get("public") is False:
                continue
            members = [m for m in cube.get("measures", []) + cube.get("dimensions", [])
                       if m.get("isVisible", True)]
            if not members:
                continue
            name, gname = cube["name"], type_name(cube["name"])
            self.cubes[field_name(name)] = cube
            for m in cube.get("measures", []):
                self.kinds[m["name"]] = "measures"
            for d in cube.get("dimensions", []):
                self.kinds[d["name"]] = "dimensions"
            members_type = GraphQLObjectType(f"{gname}Members", {
                _short(m["name"]): GraphQLField(_output_type(m.get("type", "string")),
                                                description=m.get("description"))
                for m in members})
            where_type = GraphQLInputObjectType(f"{gname}WhereInput", lambda gname=gname, members=members: {
                "AND": GraphQLInputField(GraphQLList(GraphQLNonNull(self._where[gname]))),
                "OR": GraphQLInputField(GraphQLList(GraphQLNonNull(self._where[gname]))),
                **{_short(m["name"]): GraphQLInputField(_filter_type(m.get("type", "string")))
                   for m in members}})
            order_type = GraphQLInputObjectType(f"{gname}OrderByInput", {
                _short(m["name"]): GraphQLInputField(OrderBy) for m in members})
            self._where[gname] = where_type
            result_fields[field_name(name)] = GraphQLField(
                GraphQLNonNull(members_type),
                args={"where": GraphQLArgument(where_type), "orderBy": GraphQLArgument(order_type)})
            where_fields[field_name(name)] = GraphQLInputField(where_type)
            order_fields[field_name(name)] = GraphQLInputField(order_type)

        root_where = GraphQLInputObjectType("RootWhereInput", lambda: {
            "AND": GraphQLInputField(GraphQLList(GraphQLNonNull(root_where))),
            "OR": GraphQLInputField(GraphQLList(GraphQLNonNull(root_where))),
            **where_fields})
        root_order = GraphQLInputObjectType("RootOrderByInput", order_fields or {
            "_": GraphQLInputField(OrderBy)})
        result = GraphQLObjectType("Result", result_fields or {"_": GraphQLField(GraphQLString)})
        query = GraphQLObjectType("Query", {"cube": GraphQLField(
            GraphQLNonNull(GraphQLList(GraphQLNonNull(result))),
            args={"where": GraphQLArgument(root_where), "limit": GraphQLArgument(GraphQLInt),
                  "offset": GraphQLArgument(GraphQLInt),
                  "timezone": GraphQLArgument(GraphQLString),
                  "renewQuery": GraphQLArgument(GraphQLBoolean),
                  "cache": GraphQLArgument(GraphQLString),
                  "ungrouped": GraphQLArgument(GraphQLBoolean),
                  "orderBy": GraphQLArgument(root_order)},
            resolve=self._resolve)})
        self.schema = GraphQLSchema(query=query, types=[DateTime])

    # --- resolving ------------------------------------------------------------------------

    def _resolve(self, _root: Any, info: GraphQLResolveInfo, **args: Any) -> list[dict]:
        engine = info.context["engine"]
        variables = getattr(info.variable_values, "coerced", info.variable_values) or {}
        query = self.json_query(args, info.field_nodes[0], variables)
        try:
            result = engine.load(query)
        except CubeError as exc:
            info.context["cube_error"] = exc
            raise GraphQLError(str(exc.body.get("error") or exc.body)) from None
        info.context["extensions"] = {"annotation": result["annotation"],
                                      "lastRefreshTime": result["lastRefreshTime"]}
        return _nest(result)

    def cube_name(self, field: str) -> str:
        cube = self.cubes.get(field)
        return cube["name"] if cube else field[:1].upper() + field[1:]

    def json_query(self, args: dict, node: FieldNode, variables: dict) -> dict:
        """The Cube JSON query a `cube(...) { ... }` selection asks for (graph.ts's getJsonQuery)."""
        measures: list[str] = []
        dimensions: list[str] = []
        time_dimensions: list[dict] = []
        order: list[list[str]] = []
        filters = self._filters(args["where"]) if args.get("where") else []
        for cube_field, members in (args.get("orderBy") or {}).items():
            for member, direction in members.items():
                order.append([f"{self.cube_name(cube_field)}.{member}", direction])

        for cube_node in _children(node, variables):
            cube = self.cube_name(cube_node.name.value)
            order_arg = _argument(cube_node, "orderBy", variables)
            for member, direction in (order_arg or {}).items():
                order.append([f"{cube}.{member}", direction])
            where_arg = _argument(cube_node, "where", variables)
            if where_arg:
                filters = self._filters(where_arg, cube) + filters
            date_ranges: dict[str, Any] = {}  # the first inDateRange per member moves to its TD
            kept = []
            for f in filters:
                if f.get("operator") == "inDateRange" and f["member"] not in date_ranges:
                    date_ranges[f["member"]] = f.get("values")
                else:
                    kept.append(f)
            filters = kept
            for member_node in _children(cube_node, variables):
                key = f"{cube}.{member_node.name.value}"
                kind = self.kinds.get(key)
                if kind == "measures":
                    measures.append(key)
                elif kind == "dimensions":
                    granularities = _children(member_node, variables)
                    if not granularities:
                        dimensions.append(key)
                    for g in granularities:
                        if g.name.value == "value":
                            dimensions.append(key)
                        else:
                            td = {"dimension": key, "granularity": g.name.value}
                            if date_ranges.get(key):
                                td["dateRange"] = date_ranges[key]
                            time_dimensions.append(td)
            if date_ranges and not time_dimensions:
                time_dimensions += [{"dimension": d, "dateRange": r} for d, r in date_ranges.items()]

        query: dict[str, Any] = {}
        for name, value in (("measures", measures), ("dimensions", dimensions),
                            ("timeDimensions", time_dimensions), ("order", order),
                            ("limit", args.get("limit")), ("offset", args.get("offset")),
                            ("timezone", args.get("timezone")), ("filters", filters),
                            ("renewQuery", args.get("renewQuery")), ("cache", args.get("cache")),
                            ("ungrouped", args.get("ungrouped"))):
            if value:
                query[name] = value
        return query

    def _filters(self, where: dict, prefix: str | None = None) -> list[dict]:
        """Cube's `whereArgToQueryFilters`: `{orders: {status: {in: [...]}}, OR: [...]}` -> filters."""
        out: list[dict] = []
        for key, value in where.items():
            if value is None:
                continue
            if key in ("AND", "OR"):
                out.append({key.lower(): [f for item in value for f in self._filters(item, prefix)]})
            elif isinstance(value, dict) and (value.get("AND") or value.get("OR")):
                cube = self.cube_name(key)
                if len(value) > 1:
                    out += self._filters({"AND": [{k: v} for k, v in value.items()]}, cube)
                else:
                    out += self._filters(value, cube)
            elif prefix:
                out += [_filter(f"{prefix}.{key}", op, v) for op, v in value.items()]
            else:
                cube = self.cube_name(key)
                for member, ops in value.items():
                    out += [_filter(f"{cube}.{member}", op, v) for op, v in (ops or {}).items()]
        return out


def _filter(member: str, operator: str, value: Any) -> dict:
    mapped = {"in": "equals", "notIn": "notEquals"}.get(operator, operator)
    if operator == "set":
        return {"member": member, "operator": "set" if value is True else "notSet"}
    values = [_text(v) for v in value] if isinstance(value, list) else [_text(value)]
    if operator in ("inDateRange", "notInDateRange") and len(values) == 1 \
            and not re.match(r"^\d\d\d\d-\d\d-\d\d", values[0]):
        return {"member": member, "operator": mapped, "values": values[0]}  # a relative range
    return {"member": member, "operator": mapped, "values": values}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _children(node: FieldNode, variables: dict) -> list[FieldNode]:
    selections = node.selection_set.selections if node.selection_set else []
    return [s for s in selections if isinstance(s, gast.FieldNode)
            and s.name.value != "__typename" and _included(s, variables)]


def _included(node: FieldNode, variables: dict) -> bool:
    for directive in node.directives or []:
        for argument in directive.arguments or []:
            if argument.name.value != "if":
                continue
            value = _value(argument.value, variables)
            if (directive.name.value == "include" and not value) or \
                    (directive.name.value == "skip" and value):
                return False
    return True


def _argument(node: FieldNode, name: str, variables: dict) -> Any:
    for argument in node.arguments or []:
        if argument.name.value == name:
            return _value(argument.value, variables)
    return None


def _value(node: gast.ValueNode, variables: dict) -> Any:
    if isinstance(node, gast.VariableNode):
        if variables.get(node.name.value) is None:
            raise GraphQLError(f'Variable "{node.name.value}" is not defined')
        return variables[node.name.value]
    if isinstance(node, gast.ListValueNode):
        return [_value(v, variables) for v in node.values]
    if isinstance(node, gast.ObjectValueNode):
        return {f.name.value: _value(f.value, variables) for f in node.fields}
    if isinstance(node, gast.IntValueNode):
        return int(node.value)
    if isinstance(node, gast.FloatValueNode):
        return float(node.value)
    if isinstance(node, gast.NullValueNode):
        return None
    return node.value  # string, boolean, enum


def _nest(result: dict) -> list[dict]:
    """Rows `{"Orders.createdAt.month": ...}` -> `{"orders": {"createdAt": {"month": ...}}}`,
    times as UTC instants (`...Z`)."""
    annotation = result["annotation"]
    tz = ZoneInfo(result["query"].get("timezone") or "UTC")
    time_keys = {k for group in ("measures", "dimensions", "timeDimensions")
                 for k, v in annotation.get(group, {}).items() if v.get("type") == "time"}
    rows = []
    for row in result["data"]:
        out: dict = {}
        for key, value in row.items():
            path = key.split(".")
            path[0] = field_name(path[0])
            if (annotation["dimensions"].get(key) or {}).get("type") == "time":
                path.append("value")
            if key in annotation["timeDimensions"] and len(path) != 3:
                continue  # the legacy `Cube.td` key
            if key in time_keys:
                value = _utc(value, tz)
            node = out
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = value
        rows.append(out)
    return rows


def _utc(value: Any, tz: ZoneInfo) -> Any:
    if not isinstance(value, str):
        return value
    try:
        local = datetime.fromisoformat(value)
    except ValueError:
        return value
    if local.tzinfo is None:
        local = local.replace(tzinfo=tz)
    instant = local.astimezone(timezone.utc)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def _js_numbers(value: Any) -> Any:
    """Floats that are whole print as integers, as JavaScript prints them."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() \
            and abs(value) < 2 ** 53:
        return int(value)
    if isinstance(value, list):
        return [_js_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _js_numbers(v) for k, v in value.items()}
    return value


# --- the endpoint -------------------------------------------------------------------------


class GraphQLAPI:
    """Schemas per model version (built on first use), and request execution."""

    def __init__(self) -> None:
        self._schemas: dict[Any, CubeSchema] = {}
        self._lock = threading.Lock()

    def schema_for(self, engine: Any) -> CubeSchema:
        key = (id(engine.model), engine.model_version)
        with self._lock:
            schema = self._schemas.get(key)
            if schema is None:
                if len(self._schemas) > 16:
                    self._schemas.clear()
                schema = self._schemas[key] = CubeSchema(engine.meta())
            return schema

    def execute(self, engine: Any, source: Any, variables: Any = None,
                operation_name: Any = None) -> tuple[int, dict]:
        """Run one GraphQL request against `engine`: `(status, body)`."""
        if not isinstance(source, str) or not source.strip():
            return 400, {"errors": [{"message": "Must provide query string."}]}
        if variables is not None and not isinstance(variables, dict):
            return 400, {"errors": [{"message": "Variables are invalid JSON."}]}
        cube_schema = self.schema_for(engine)
        try:
            document = parse(source)
        except GraphQLError as error:
            return 400, {"errors": [error.formatted]}
        errors = validate(cube_schema.schema, document)
        if errors:
            return 400, {"errors": [e.formatted for e in errors]}
        context: dict[str, Any] = {"engine": engine}
        result = execute(cube_schema.schema, document, context_value=context,
                         variable_values=variables or {}, operation_name=operation_name)
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [e.formatted for e in result.errors]
        body["data"] = _js_numbers(result.data)
        if "extensions" in context:
            body["extensions"] = context["extensions"]
        status = 200
        cube_error = context.get("cube_error")
        if result.data is None:
            status = 400 if cube_error is None or cube_error.status != 200 else 200
            if cube_error is not None and cube_error.status >= 500:
                status = cube_error.status
        return status, body


def create_blueprint(tenants: Tenants, auth: Auth) -> Blueprint:
    """`GET|POST /cubejs-api/graphql`, with the same security context as the REST routes."""
    graphql = GraphQLAPI()
    blueprint = Blueprint("cube_graphql", __name__)

    @blueprint.route("/cubejs-api/graphql", methods=["GET", "POST"])
    def graphql_route() -> Response:
        try:
            engine = tenants.for_context(auth.cube_context(request.headers))
            params = request_params()
            variables = params.get("variables")
            if isinstance(variables, str) and variables.strip():
                try:
                    variables = json.loads(variables)
                except json.JSONDecodeError:
                    return json_response({"errors": [{"message": "Variables are invalid JSON."}]},
                                         400)
            status, body = graphql.execute(engine, params.get("query"), variables or None,
                                           params.get("operationName"))
            return json_response(body, status)
        except CubeError as exc:
            return json_response(exc.body, exc.status)
        except Exception:
            log.exception("internal error")
            return json_response({"errors": [{"message": "Internal server error"}]}, 500)

    return blueprint
