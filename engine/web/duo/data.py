"""Every number and row of the Duo GraphQL API, fetched with Cube queries through `Engine.load`.

No SQL here: each method builds a Cube query over the models in cubes/duo_*.yml (DuoUsageEvents,
DuoUsers, DuoGroups, DuoProjects, DuoMembers, DuoSeatAssignments, DuoContributions) and reads
the answer. Namespace hierarchy scoping is a `startsWith` filter on a traversal path.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any, Iterable

from graphql import GraphQLError

from engine.api import Engine
from engine.errors import CubeError
from .rules import cube_instant

E = "DuoUsageEvents"
REPORTER = 20
MAX_WAIT_SECONDS = 600  # GraphQL has no "Continue wait": a slow Cube query is waited for


@dataclass(frozen=True)
class Namespace:
    """A group or a project (through its project namespace), as the API scopes data by it."""
    kind: str                 # "group" | "project"
    id: int
    name: str
    path: str
    full_path: str
    traversal_path: str       # "9970/9972/" (a project's ends with its project namespace id)
    visibility: str
    full_name: str = ""

    @property
    def root_id(self) -> int:
        return int(self.traversal_path.split("/")[0])

    @property
    def ancestor_paths(self) -> list[str]:
        """Traversal paths of the proper ancestors: '9970/' for '9970/9972/'."""
        ids = self.traversal_path.strip("/").split("/")
        return ["".join(f"{i}/" for i in ids[:n]) for n in range(1, len(ids))]

    @property
    def self_and_ancestor_paths(self) -> list[str]:
        return self.ancestor_paths + [self.traversal_path]


@dataclass(frozen=True)
class User:
    id: int
    username: str
    name: str
    state: str = "active"
    admin: bool = False


def _values(items: Iterable[Any]) -> list[str]:
    return [str(v) for v in items]


def _f(member: str, operator: str, values: Iterable[Any] | None = None) -> dict:
    out: dict = {"member": member, "operator": operator}
    if values is not None:
        out["values"] = _values(values)
    return out


def _same_path(rows: list[dict], member: str, full_path: str) -> list[dict]:
    """Rows whose full path is `full_path`, case-insensitively (as GitLab finds routes; the
    query's startsWith is case-insensitive too)."""
    return [r for r in rows if r[member].lower() == full_path.lower()]


def _int(value: Any) -> int:
    return int(float(value)) if value is not None else 0


class DuoData:
    """Cube queries for the Duo API over one engine (memoizes the small directory lookups)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._users: dict[Any, User | None] = {}
        self._namespaces: dict[tuple[str, str], Namespace | None] = {}

    # ----------------------------------------------------------------------------- plumbing

    def load(self, query: dict) -> list[dict]:
        deadline = time.monotonic() + MAX_WAIT_SECONDS
        while True:
            try:
                return self.engine.load(query)["data"]
            except CubeError as exc:
                body = exc.body if isinstance(exc.body, dict) else {"error": str(exc.body)}
                if exc.status == 200 and body.get("error") == "Continue wait" \
                        and time.monotonic() < deadline:
                    continue  # an orchestrated engine: the query keeps running; ask again
                raise GraphQLError(f"AI analytics data unavailable: {body.get('error')}") from None

    # ----------------------------------------------------------------------------- directory

    def group(self, full_path: str) -> Namespace | None:
        key = ("group", full_path)
        if key not in self._namespaces:
            rows = self.load({
                "dimensions": [f"DuoGroups.{d}" for d in
                               ("id", "name", "path", "fullPath", "traversalPath", "visibility")],
                "filters": [_f("DuoGroups.fullPath", "startsWith", [full_path])]})
            rows = _same_path(rows, "DuoGroups.fullPath", full_path)
            self._namespaces[key] = None if not rows else self._group_from(rows[0])
        return self._namespaces[key]

    def _group_from(self, row: dict) -> Namespace:
        names = self._group_names(row["DuoGroups.traversalPath"])
        return Namespace("group", _int(row["DuoGroups.id"]), row["DuoGroups.name"],
                         row["DuoGroups.path"], row["DuoGroups.fullPath"],
                         row["DuoGroups.traversalPath"], row["DuoGroups.visibility"],
                         " / ".join(names))

    def _group_names(self, traversal_path: str) -> list[str]:
        ids = [i for i in traversal_path.split("/") if i]
        rows = self.load({"dimensions": ["DuoGroups.id", "DuoGroups.name"],
                          "filters": [_f("DuoGroups.id", "equals", ids)]})
        names = {r["DuoGroups.id"]: r["DuoGroups.name"] for r in rows}
        return [names[i] for i in ids if i in names]

    def project(self, full_path: str) -> Namespace | None:
        key = ("project", full_path)
        if key not in self._namespaces:
            rows = self.load({
                "dimensions": [f"DuoProjects.{d}" for d in
                               ("id", "name", "path", "fullPath", "traversalPath", "visibility")],
                "filters": [_f("DuoProjects.fullPath", "startsWith", [full_path])]})
            rows = _same_path(rows, "DuoProjects.fullPath", full_path)
            if not rows:
                self._namespaces[key] = None
            else:
                r = rows[0]
                groups = self._group_names(r["DuoProjects.traversalPath"])
                self._namespaces[key] = Namespace(
                    "project", _int(r["DuoProjects.id"]), r["DuoProjects.name"],
                    r["DuoProjects.path"], r["DuoProjects.fullPath"],
                    r["DuoProjects.traversalPath"], r["DuoProjects.visibility"],
                    " / ".join(groups + [r["DuoProjects.name"]]))
        return self._namespaces[key]

    def user(self, *, username: str | None = None, user_id: int | None = None) -> User | None:
        key = ("u", username) if username is not None else ("i", user_id)
        if key not in self._users:
            member, value = ("DuoUsers.username", username) if username is not None else \
                ("DuoUsers.id", user_id)
            rows = self.load({"dimensions": ["DuoUsers.id", "DuoUsers.username", "DuoUsers.name",
                                             "DuoUsers.state", "DuoUsers.admin"],
                              "filters": [_f(member, "equals", [value])], "limit": 1})
            self._users[key] = None if not rows else User(
                _int(rows[0]["DuoUsers.id"]), rows[0]["DuoUsers.username"],
                rows[0]["DuoUsers.name"], rows[0]["DuoUsers.state"],
                rows[0]["DuoUsers.admin"] in (True, "true"))
        return self._users[key]

    def access_level(self, user_id: int, ns: Namespace) -> int:
        """The user's highest access level on `ns`: memberships of `ns` itself or inherited from
        its ancestors (a project's include its own project membership)."""
        rows = self.load({"measures": ["DuoMembers.maxAccessLevel"],
                          "filters": [_f("DuoMembers.userId", "equals", [user_id]),
                                      _f("DuoMembers.namespacePath", "equals",
                                         ns.self_and_ancestor_paths)]})
        return _int(rows[0]["DuoMembers.maxAccessLevel"]) if rows else 0

    def has_membership_in_hierarchy(self, user_id: int, ns: Namespace) -> bool:
        """A member of `ns`, of an ancestor or of something below it (can see a private group)."""
        rows = self.load({"measures": ["DuoMembers.count"],
                          "filters": [_f("DuoMembers.userId", "equals", [user_id]),
                                      {"or": [_f("DuoMembers.namespacePath", "startsWith",
                                                 [ns.traversal_path]),
                                              _f("DuoMembers.namespacePath", "equals",
                                                 ns.self_and_ancestor_paths)]}]})
        return bool(rows) and _int(rows[0]["DuoMembers.count"]) > 0

    @staticmethod
    def members_filter(ns: Namespace) -> dict:
        """Users who are members of `ns` the way GitLab's AddOnAssignedUsersFinder counts them:
        direct, inherited (ancestor groups) and descendant-group members; for a project, its
        own members and its ancestor groups' members."""
        group_paths = [_f("DuoMembers.namespacePath", "startsWith", [ns.traversal_path])]
        if ns.ancestor_paths:
            group_paths.append(_f("DuoMembers.namespacePath", "equals", ns.ancestor_paths))
        return {"or": [
            {"and": [_f("DuoMembers.sourceType", "equals", ["Namespace"]), {"or": group_paths}]},
            {"and": [_f("DuoMembers.sourceType", "equals", ["Project"]),
                     _f("DuoMembers.namespacePath", "equals", [ns.traversal_path])]},
        ]}

    # ----------------------------------------------------------------------------- raw events

    def _event_filters(self, ns: Namespace | None, start: dt.datetime, end: dt.datetime,
                       event_ids: list[int] | None, user_ids: list[int] | None) -> list[dict]:
        filters = [_f(f"{E}.timestamp", "inDateRange", [cube_instant(start), cube_instant(end)])]
        if ns is not None:
            filters.append(_f(f"{E}.namespacePath", "startsWith", [ns.traversal_path]))
        if event_ids:
            filters.append(_f(f"{E}.event", "equals", sorted(set(event_ids))))
        if user_ids:
            filters.append(_f(f"{E}.userId", "equals", sorted(set(user_ids))))
        return filters

    def usage_events(self, ns: Namespace | None, start: dt.datetime, end: dt.datetime,
                     event_ids: list[int] | None, user_ids: list[int] | None,
                     offset: int, limit: int) -> list[dict]:
        """Events newest first (timestamp DESC, user DESC, then row id DESC), one page."""
        return self.load({
            "dimensions": [f"{E}.id", f"{E}.timestamp", f"{E}.event", f"{E}.userId",
                           f"{E}.namespacePath", f"{E}.extras", "DuoUsers.username",
                           "DuoUsers.name", "DuoUsers.state"],
            "filters": self._event_filters(ns, start, end, event_ids, user_ids),
            "order": [[f"{E}.timestamp", "desc"], [f"{E}.userId", "desc"], [f"{E}.id", "desc"]],
            "limit": max(limit, 1), "offset": offset,
        })[:limit]

    def usage_events_count(self, ns: Namespace | None, start: dt.datetime, end: dt.datetime,
                           event_ids: list[int] | None, user_ids: list[int] | None) -> int:
        rows = self.load({"measures": [f"{E}.count"],
                          "filters": self._event_filters(ns, start, end, event_ids, user_ids)})
        return _int(rows[0][f"{E}.count"]) if rows else 0

    # ----------------------------------------------------------------------------- seats

    def _seat_filters(self, ns: Namespace, add_ons: list[str],
                      window: tuple[dt.datetime | None, dt.datetime | None] | None) -> list[dict]:
        filters = [_f("DuoSeatAssignments.namespaceId", "equals", [ns.root_id]),
                   _f("DuoSeatAssignments.addOnName", "equals", add_ons),
                   self.members_filter(ns)]
        if window is None:  # current seats
            filters.append(_f("DuoSeatAssignments.unassignedAt", "notSet"))
        else:  # assigned at some point of [after, before] (GitLab's historical assigned users)
            after, before = window
            if before is not None:
                filters.append(_f("DuoSeatAssignments.assignedAt", "beforeOrOnDate",
                                  [cube_instant(before)]))
            if after is not None:
                filters.append({"or": [_f("DuoSeatAssignments.unassignedAt", "notSet"),
                                       _f("DuoSeatAssignments.unassignedAt", "afterOrOnDate",
                                          [cube_instant(after)])]})
        return filters

    def assigned_users(self, ns: Namespace, add_ons: list[str], window=None,
                       offset: int = 0, limit: int | None = None) -> list[User]:
        query = {"dimensions": ["DuoSeatAssignments.userId", "DuoUsers.username", "DuoUsers.name",
                                "DuoUsers.state"],
                 "filters": self._seat_filters(ns, add_ons, window),
                 "order": [["DuoSeatAssignments.userId", "asc"]], "offset": offset}
        if limit is not None:
            query["limit"] = max(limit, 1)
        rows = self.load(query)
        if limit is not None:
            rows = rows[:limit]
        return [User(_int(r["DuoSeatAssignments.userId"]), r["DuoUsers.username"],
                     r["DuoUsers.name"], r["DuoUsers.state"]) for r in rows]

    def assigned_users_count(self, ns: Namespace, add_ons: list[str], window=None) -> int:
        rows = self.load({"measures": ["DuoSeatAssignments.assignedUsersCount"],
                          "filters": self._seat_filters(ns, add_ons, window)})
        return _int(rows[0]["DuoSeatAssignments.assignedUsersCount"]) if rows else 0

    # ----------------------------------------------------------------------------- aggregates

    def event_measures(self, measures: list[str], *, ns: Namespace | None, first_day: dt.date,
                       last_day: dt.date, user_ids: list[int] | None = None,
                       by_user: bool = False, extra_filters: list[dict] | None = None,
                       order: list | None = None, offset: int = 0, limit: int | None = None
                       ) -> list[dict]:
        """DuoUsageEvents measures over whole days [first_day, last_day] (GitLab's daily tables:
        `date >= from AND date <= to`), optionally per user; values as ints / strings."""
        filters = list(extra_filters or [])
        if ns is not None:
            filters.append(_f(f"{E}.namespacePath", "startsWith", [ns.traversal_path]))
        if user_ids is not None:
            if not user_ids:
                return []
            filters.append(_f(f"{E}.userId", "equals", sorted(set(user_ids))))
        query: dict = {
            "measures": [f"{E}.{m}" for m in measures],
            "timeDimensions": [{"dimension": f"{E}.timestamp",
                                "dateRange": [first_day.isoformat(), last_day.isoformat()]}],
            "filters": filters,
        }
        if by_user:
            query["dimensions"] = [f"{E}.userId"]
        if order:
            query["order"] = order
        if limit is not None:
            query["limit"], query["offset"] = max(limit, 1), offset
        rows = self.load(query)
        return rows[:limit] if limit is not None else rows

    def event_measures_between(self, measures: list[str], *, ns: Namespace | None,
                               start: dt.datetime, end: dt.datetime) -> dict[str, int]:
        """DuoUsageEvents measures with `timestamp >= start AND timestamp <= end` (exact instants)."""
        filters = [_f(f"{E}.timestamp", "inDateRange", [cube_instant(start), cube_instant(end)])]
        if ns is not None:
            filters.append(_f(f"{E}.namespacePath", "startsWith", [ns.traversal_path]))
        rows = self.load({"measures": [f"{E}.{m}" for m in measures], "filters": filters})
        return {m: _int(rows[0][f"{E}.{m}"]) if rows else 0 for m in measures}

    def distinct_values(self, dimension: str, *, ns: Namespace, first_day: dt.date,
                        last_day: dt.date, event_ids: list[int],
                        extra_filters: list[dict] | None = None) -> list[str | None]:
        rows = self.load({
            "measures": [f"{E}.count"], "dimensions": [f"{E}.{dimension}"],
            "timeDimensions": [{"dimension": f"{E}.timestamp",
                                "dateRange": [first_day.isoformat(), last_day.isoformat()]}],
            "filters": [_f(f"{E}.namespacePath", "startsWith", [ns.traversal_path]),
                        _f(f"{E}.event", "equals", event_ids)] + list(extra_filters or []),
            "order": [[f"{E}.{dimension}", "asc"]]})
        return [r[f"{E}.{dimension}"] for r in rows]

    def push_authors_count(self, ns: Namespace, first_day: dt.date, last_day: dt.date) -> int:
        rows = self.load({
            "measures": ["DuoContributions.pushAuthorsCount"],
            "timeDimensions": [{"dimension": "DuoContributions.createdAt",
                                "dateRange": [first_day.isoformat(), last_day.isoformat()]}],
            "filters": [_f("DuoContributions.namespacePath", "startsWith", [ns.traversal_path])]})
        return _int(rows[0]["DuoContributions.pushAuthorsCount"]) if rows else 0

    def contributor_ids(self, ns: Namespace, first_day: dt.date, last_day: dt.date) -> list[int]:
        """Authors of any contribution in the hierarchy and period."""
        rows = self.load({
            "dimensions": ["DuoContributions.authorId"],
            "timeDimensions": [{"dimension": "DuoContributions.createdAt",
                                "dateRange": [first_day.isoformat(), last_day.isoformat()]}],
            "filters": [_f("DuoContributions.namespacePath", "startsWith", [ns.traversal_path])],
            "order": [["DuoContributions.authorId", "asc"]]})
        return [_int(r["DuoContributions.authorId"]) for r in rows]

