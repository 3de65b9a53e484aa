"""Resolvers of the Duo GraphQL schema: objects that answer their fields from `DuoData` (Cube
queries), applying GitLab's authorization and argument rules.

Every object either is a plain dict (leaf data) or has `resolve_field(name, info, args)`; the
field resolver below dispatches to it, so the schema stays pure SDL.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from engine.web.auth import Caller

from . import paging
from .data import REPORTER, DuoData, Namespace, User
from .events import (ACCEPTED, CODE_SUGGESTION_IDS, EVENT_BY_ENUM, EVENT_BY_ID, FEATURES,
                     FEATURE_BY_NAME, SHOWN)
from .rules import (RESOURCE_ACCESS_ERROR, Window, beginning_of_day, end_of_day, metrics_window,
                    usage_events_window, user_metrics_window)
from .schema import METRICS_FEATURES, sort_values

SORTS = {value: (measure, direction) for value, measure, direction in sort_values()}
DUO_PRO, DUO_ENTERPRISE = "code_suggestions", "duo_enterprise"


@dataclass
class DuoSettings:
    """Knobs of the emulated GitLab instance.

    retention_months: aiUsageData keeps raw events this long (GitLab without ClickHouse: 3);
        None or 0 means no retention (GitLab with ClickHouse).
    chat_namespace_filter: feature flag `use_duo_chat_namespace_path_filter`; when off, chat
        counts ignore the namespace and duoChatContributorsCount keeps chat users who
        contributed to the namespace.
    web_url: base URL for `webUrl` fields.
    now: freezes the clock of the default windows (ISO string / datetime); None = the engine's.
    """
    retention_months: int | None = 3
    chat_namespace_filter: bool = True
    web_url: str = "https://gitlab.example.com"
    now: Any = None


@dataclass
class Context:
    data: DuoData
    caller: Caller
    now: dt.datetime          # naive UTC
    settings: DuoSettings
    _user: Any = field(default=False)

    @property
    def user(self) -> User | None:
        if self._user is False:
            self._user = (self.data.user(username=self.caller.username)
                          if self.caller.username else None)
        return self._user

    @property
    def admin(self) -> bool:
        return self.caller.admin or bool(self.user and self.user.admin)

    def can_read(self, ns: Namespace) -> bool:
        if self.admin or ns.visibility == "public":
            return True
        return self.user is not None and self.data.has_membership_in_hierarchy(self.user.id, ns)

    def authorize_analytics(self, ns: Namespace) -> None:
        """`read_enterprise_ai_analytics` / `read_pro_ai_analytics`: Reporter or above (every
        namespace here is licensed), or an administrator."""
        if self.admin:
            return
        if self.user is None or self.data.access_level(self.user.id, ns) < REPORTER:
            raise GraphQLError(RESOURCE_ACCESS_ERROR)


def resolve_field(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    """The schema's field resolver: dicts by key, objects through `resolve_field`."""
    name = info.field_name
    if isinstance(source, dict):
        return source.get(name)
    method = getattr(source, "resolve_field", None)
    if method is not None:
        return method(name, info, args)
    return getattr(source, name, None)


def _user_node(ctx: Context, user_id: Any, username: str | None, name: str | None,
               state: str | None) -> dict | None:
    if username is None:
        return None
    return {"id": f"gid://gitlab/User/{int(float(user_id))}", "username": username, "name": name,
            "state": state or "active", "webUrl": f"{ctx.settings.web_url}/{username}",
            "avatarUrl": None}


def _time(value: str) -> str:
    """Cube's 'YYYY-MM-DDTHH:mm:ss.SSS' (UTC) as GitLab's Time: ISO 8601, seconds, 'Z'."""
    return value[:19] + "Z"


# --------------------------------------------------------------------------- Query


class Root:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def resolve_field(self, name: str, info: GraphQLResolveInfo, args: dict) -> Any:
        ctx = self.ctx
        if name == "currentUser":
            user = ctx.user
            return _user_node(ctx, user.id, user.username, user.name, user.state) if user else None
        if name in ("group", "project"):
            ns = ctx.data.group(args["fullPath"]) if name == "group" else \
                ctx.data.project(args["fullPath"])
            return NamespaceNode(ctx, ns) if ns is not None and ctx.can_read(ns) else None
        if name == "aiUsageData":
            if not ctx.admin:  # instance-wide data: administrators only
                raise GraphQLError(RESOURCE_ACCESS_ERROR)
            return UsageData(ctx, None)
        raise GraphQLError(f"Field '{name}' is not served")


class NamespaceNode:
    def __init__(self, ctx: Context, ns: Namespace):
        self.ctx, self.ns = ctx, ns

    def resolve_field(self, name: str, info: GraphQLResolveInfo, args: dict) -> Any:
        ns, ctx = self.ns, self.ctx
        simple = {
            "id": f"gid://gitlab/{'Group' if ns.kind == 'group' else 'Project'}/{ns.id}",
            "name": ns.name, "path": ns.path, "fullPath": ns.full_path, "fullName": ns.full_name,
            "nameWithNamespace": ns.full_name, "visibility": ns.visibility,
            "webUrl": f"{ctx.settings.web_url}/{ns.full_path}",
        }
        if name in simple:
            return simple[name]
        ctx.authorize_analytics(ns)
        if name == "aiUsageData":
            return UsageData(ctx, ns)
        if name == "aiUserMetrics":
            return user_metrics_connection(ctx, ns, args)
        if name == "aiMetrics":
            return MetricsNode(ctx, ns, metrics_window(args, ctx.now))
        raise GraphQLError(f"Field '{name}' is not served")


# --------------------------------------------------------------------------- aiUsageData


class UsageData:
    def __init__(self, ctx: Context, ns: Namespace | None):
        self.ctx, self.ns = ctx, ns

    def resolve_field(self, name: str, info: GraphQLResolveInfo, args: dict) -> Any:
        if name == "codeSuggestionEvents":  # forces the Code Suggestions events
            return self.events(args, list(CODE_SUGGESTION_IDS), "code")
        if name == "all":
            return self.events(args, None, "instance" if self.ns is None else "plain")
        raise GraphQLError(f"Field '{name}' is not served")

    def events(self, args: dict, forced_ids: list[int] | None, kind: str) -> dict:
        ctx, data, ns = self.ctx, self.ctx.data, self.ns
        window = usage_events_window(args, ctx.now, ctx.settings.retention_months)
        event_ids = forced_ids or [EVENT_BY_ENUM[e].id for e in args.get("events") or []] or None
        user_ids = list(args.get("userIds") or []) or None
        page = paging.plan(args, lambda: data.usage_events_count(
            ns, window.start, window.end, event_ids, user_ids))
        rows = data.usage_events(ns, window.start, window.end, event_ids, user_ids,
                                 page.offset, page.limit + 1)
        return paging.connection(rows, page, lambda row: self.node(row, kind))

    def node(self, row: dict, kind: str) -> dict:
        e = "DuoUsageEvents"
        event = EVENT_BY_ID.get(int(float(row[f"{e}.event"])))
        node = {
            "timestamp": _time(row[f"{e}.timestamp"]),
            "event": event.enum if event else None,
            "user": _user_node(self.ctx, row[f"{e}.userId"], row["DuoUsers.username"],
                               row["DuoUsers.name"], row["DuoUsers.state"]),
        }
        extras = json.loads(row[f"{e}.extras"] or "{}")
        if kind == "code":
            size = extras.get("suggestion_size")
            node.update(language=extras.get("language"),
                        suggestionSize=None if size is None else str(size),
                        uniqueTrackingId=extras.get("unique_tracking_id"))
        elif kind == "instance":
            node.update(namespacePath=row[f"{e}.namespacePath"], extras=extras)
        return node


# --------------------------------------------------------------------------- aiUserMetrics


def _user_metric_measures() -> list[str]:
    measures = ["totalEventCount", "lastActivityOn"]
    for f in FEATURES:
        measures += [f.total_measure, f.last_activity_measure]
        measures += [e.count_field for e in f.events]
    return measures


def user_metrics_connection(ctx: Context, ns: Namespace, args: dict) -> dict:
    data = ctx.data
    window = user_metrics_window(args, ctx.now)
    start_arg, end_arg = args.get("startDate"), args.get("endDate")
    # AddOnAssignedUsersFinder(add_on_name: :duo_enterprise, after: startDate, before: endDate):
    # users assigned at some point of the given window, current seats without dates.
    seats = None if start_arg is None and end_arg is None else (
        beginning_of_day(_as_datetime(start_arg)) if start_arg else None,
        end_of_day(_as_datetime(end_arg)) if end_arg else None)
    sort = args.get("sort")
    if sort is None:
        page = paging.plan(args, lambda: data.assigned_users_count(ns, [DUO_ENTERPRISE], seats))
        users = data.assigned_users(ns, [DUO_ENTERPRISE], seats, page.offset, page.limit + 1)
    else:
        # GitLab sorts in ClickHouse and keeps the users the metrics query returns (users
        # without any event in the window drop out), then paginates that array.
        measure, direction = SORTS[sort]
        assigned = {u.id: u for u in data.assigned_users(ns, [DUO_ENTERPRISE], seats)}
        rows = data.event_measures([measure], ns=ns, first_day=window.first_day,
                                   last_day=window.last_day, user_ids=list(assigned),
                                   by_user=True,
                                   order=[[f"DuoUsageEvents.{measure}", direction],
                                          ["DuoUsageEvents.userId", "asc"]])
        ordered = [assigned[int(float(r["DuoUsageEvents.userId"]))] for r in rows]
        page = paging.plan(args, lambda: len(ordered))
        users = ordered[page.offset:page.offset + page.limit + 1]
    metrics = _user_metrics(ctx, ns, window, [u.id for u in users[:page.limit]])
    return paging.connection(users, page, lambda u: _user_metrics_node(ctx, u, metrics.get(u.id, {})))


def _as_datetime(value: dt.date) -> dt.datetime:
    return dt.datetime.combine(value, dt.time())


def _user_metrics(ctx: Context, ns: Namespace, window: Window, user_ids: list[int]
                  ) -> dict[int, dict[str, Any]]:
    if not user_ids:
        return {}
    measures = _user_metric_measures()
    rows = ctx.data.event_measures(measures, ns=ns, first_day=window.first_day,
                                   last_day=window.last_day, user_ids=user_ids, by_user=True)
    out = {int(float(r["DuoUsageEvents.userId"])): {m: r[f"DuoUsageEvents.{m}"] for m in measures}
           for r in rows}
    if not ctx.settings.chat_namespace_filter:
        chat = FEATURE_BY_NAME["chat"]
        chat_measures = [chat.total_measure, chat.last_activity_measure] + \
            [e.count_field for e in chat.events]
        for r in ctx.data.event_measures(chat_measures, ns=None, first_day=window.first_day,
                                         last_day=window.last_day, user_ids=user_ids,
                                         by_user=True):
            values = out.setdefault(int(float(r["DuoUsageEvents.userId"])), {})
            values.update({m: r[f"DuoUsageEvents.{m}"] for m in chat_measures})
    return out


def _count(values: dict, measure: str) -> int:
    value = values.get(measure)
    return int(float(value)) if value is not None else 0


def _day(value: Any) -> str | None:
    return value[:10] if value else None


def _user_metrics_node(ctx: Context, user: User, values: dict) -> dict:
    node: dict[str, Any] = {
        "user": _user_node(ctx, user.id, user.username, user.name, user.state),
        "totalEventCount": _count(values, "totalEventCount"),
        "lastDuoActivityOn": _day(values.get("lastActivityOn")),
    }
    for f in FEATURES:
        feature = {"totalEventCount": _count(values, f.total_measure),
                   "lastDuoActivityOn": _day(values.get(f.last_activity_measure))}
        feature.update({e.count_field: _count(values, e.count_field) for e in f.events})
        node[f.field] = feature
    node["codeSuggestionsAcceptedCount"] = node["codeSuggestions"][ACCEPTED.count_field]
    node["duoChatInteractionsCount"] = node["chat"]["requestDuoChatResponseEventCount"]
    return node


# --------------------------------------------------------------------------- aiMetrics


class MetricsNode:
    """`aiMetrics`: each field runs (at most) the Cube query it needs, memoized per object."""

    def __init__(self, ctx: Context, ns: Namespace, window: Window):
        self.ctx, self.ns, self.window = ctx, ns, window
        self._memo: dict[Any, Any] = {}

    def _once(self, key: Any, compute) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def code_suggestions(self, languages=None, ide_names=None) -> "CodeSuggestionMetrics":
        key = ("cs", tuple(languages or ()), tuple(ide_names or ()))
        return self._once(key, lambda: CodeSuggestionMetrics(self, languages or [], ide_names or []))

    def resolve_field(self, name: str, info: GraphQLResolveInfo, args: dict) -> Any:
        ctx, data, ns, w = self.ctx, self.ctx.data, self.ns, self.window
        if name == "codeContributorsCount":
            return self._once(name, lambda: data.push_authors_count(ns, w.first_day, w.last_day))
        if name == "codeSuggestions":
            return self.code_suggestions(args.get("languages"), args.get("ideNames"))
        if name == "codeSuggestionsContributorsCount":
            return self.code_suggestions().value("contributorsCount")
        if name == "codeSuggestionsShownCount":
            return self.code_suggestions().value("shownCount")
        if name == "codeSuggestionsAcceptedCount":
            return self.code_suggestions().value("acceptedCount")
        if name == "duoChatContributorsCount":
            return self._once(name, self._chat_contributors)
        if name == "duoAssignedUsersCount":  # current seats, whatever the period
            return self._once(name, lambda: data.assigned_users_count(ns, [DUO_PRO, DUO_ENTERPRISE]))
        if name in ("duoUsedCount", "rootCauseAnalysisUsersCount"):
            return self._instants()[
                "usersCount" if name == "duoUsedCount" else "troubleshootJobUsersCount"]
        if name in METRICS_FEATURES:
            feature = FEATURE_BY_NAME[METRICS_FEATURES[name]]
            counts = self._feature_counts()
            return {e.count_field: counts[e.count_field] for e in feature.events}
        raise GraphQLError(f"Field '{name}' is not served")

    def _instants(self) -> dict[str, int]:
        # GitLab compares the event timestamp with the dates themselves:
        # `timestamp >= {from:Date} AND timestamp <= {to:Date}`, so the last day only counts
        # up to its midnight (unlike the daily tables, which include the whole last day).
        def compute():
            start = dt.datetime.combine(self.window.first_day, dt.time())
            end = dt.datetime.combine(self.window.last_day, dt.time())
            return self.ctx.data.event_measures_between(
                ["usersCount", "troubleshootJobUsersCount"], ns=self.ns, start=start, end=end)
        return self._once("instants", compute)

    def _feature_counts(self) -> dict[str, int]:
        def compute():
            fields = [e.count_field for name in METRICS_FEATURES.values()
                      for e in FEATURE_BY_NAME[name].events]
            chat_fields = [e.count_field for e in FEATURE_BY_NAME["chat"].events]
            filtered = self.ctx.settings.chat_namespace_filter
            out = self._daily(fields if filtered else [f for f in fields if f not in chat_fields])
            if not filtered:
                out.update(self._daily(chat_fields, namespace=False))
            return out
        return self._once("features", compute)

    def _daily(self, measures: list[str], namespace: bool = True,
               extra_filters: list[dict] | None = None) -> dict[str, int]:
        rows = self.ctx.data.event_measures(measures, ns=self.ns if namespace else None,
                                            first_day=self.window.first_day,
                                            last_day=self.window.last_day,
                                            extra_filters=extra_filters)
        return {m: _count(rows[0] if rows else {}, f"DuoUsageEvents.{m}") for m in measures}

    def _chat_contributors(self) -> int:
        data, ns, w = self.ctx.data, self.ns, self.window
        if self.ctx.settings.chat_namespace_filter:
            return self._daily(["chatUsersCount"])["chatUsersCount"]
        # without the feature flag: chat users (anywhere) who contributed to the namespace
        contributors = data.contributor_ids(ns, w.first_day, w.last_day)
        if not contributors:
            return 0
        rows = data.event_measures(["chatUsersCount"], ns=None, first_day=w.first_day,
                                   last_day=w.last_day, user_ids=contributors)
        return _count(rows[0] if rows else {}, "DuoUsageEvents.chatUsersCount")


class CodeSuggestionMetrics:
    FIELDS = {"contributorsCount": "codeSuggestionContributorsCount",
              "shownCount": SHOWN.count_field, "acceptedCount": ACCEPTED.count_field,
              "shownLinesOfCode": "shownLinesOfCode", "acceptedLinesOfCode": "acceptedLinesOfCode"}

    def __init__(self, parent: MetricsNode, languages: list[str], ide_names: list[str]):
        self.parent = parent
        self.filters = []
        if languages:
            self.filters.append({"member": "DuoUsageEvents.language", "operator": "equals",
                                 "values": list(languages)})
        if ide_names:
            self.filters.append({"member": "DuoUsageEvents.ideName", "operator": "equals",
                                 "values": list(ide_names)})
        self._values: dict[str, int] | None = None
        self._lists: dict[str, list[str]] = {}

    def value(self, field_name: str) -> int:
        if self._values is None:
            self._values = self.parent._daily(list(self.FIELDS.values()),
                                              extra_filters=self.filters)
        return self._values[self.FIELDS[field_name]]

    def resolve_field(self, name: str, info: GraphQLResolveInfo, args: dict) -> Any:
        if name in self.FIELDS:
            return self.value(name)
        if name in ("languages", "ideNames"):
            if name not in self._lists:
                dimension = "language" if name == "languages" else "ideName"
                p = self.parent
                values = p.ctx.data.distinct_values(
                    dimension, ns=p.ns, first_day=p.window.first_day, last_day=p.window.last_day,
                    event_ids=[SHOWN.id, ACCEPTED.id], extra_filters=self.filters)
                # ClickHouse keeps a missing language / IDE as ''
                self._lists[name] = sorted({v if v is not None else "" for v in values})
            return self._lists[name]
        raise GraphQLError(f"Field '{name}' is not served")


__all__ = ["Caller", "Context", "DuoSettings", "Root", "resolve_field"]
