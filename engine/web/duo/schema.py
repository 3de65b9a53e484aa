"""The GraphQL schema of GitLab's Duo AI analytics, schema-first (SDL) on graphql-core.

The static part follows GitLab's types (ee/app/graphql/types/analytics/ai_usage/*, ai_metrics/*);
everything that lists events is generated from the registry (engine/duo/events.py): the enums
`AiUsageEventType`, `AiUsageEventFeature`, `AiUserMetricsSort`, the per-feature
`<feature>UserMetrics` types (`totalEventCount`, `lastDuoActivityOn` and one
`<eventName>EventCount: Int` per registered event, deprecated ones included, as GitLab does) and the
per-feature objects of `aiMetrics`.

    from engine.web.duo.schema import sdl, schema
    print(sdl())          # the whole SDL
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

from graphql import (GraphQLError, GraphQLSchema, StringValueNode, build_schema,
                     value_from_ast_untyped)

from .events import EVENTS, FEATURES, FEATURE_BY_NAME

CONNECTION_ARGS = "after: String, before: String, first: Int, last: Int"
EVENT_ARGS = ("startDate: Date, endDate: Date, events: [AiUsageEventType!], userIds: [UserID!], "
              + CONNECTION_ARGS)

# aiMetrics per-feature objects (fields `<event>EventCount` summed from the daily table);
# agentPlatform is session-based in GitLab and not served here.
METRICS_FEATURES = {"chat": "chat", "codeReview": "code_review", "troubleshoot": "troubleshoot_job",
                    "mcp": "mcp"}


def _connection(node: str) -> str:
    return f'''
"""The connection type for {node}."""
type {node}Connection {{
  """A list of edges."""
  edges: [{node}Edge]
  """A list of nodes."""
  nodes: [{node}]
  """Information to aid in pagination."""
  pageInfo: PageInfo!
}}

"""An edge in a connection."""
type {node}Edge {{
  """A cursor for use in pagination."""
  cursor: String!
  """The item at the end of the edge."""
  node: {node}
}}
'''


def _event_fields() -> str:
    return '''  """When the event happened."""
  timestamp: Time!
  """Type of the event."""
  event: AiUsageEventType!
  """User associated with the event."""
  user: UserCore!'''


def _user_fields() -> str:
    return '''  """Global ID of the user."""
  id: ID!
  """Username of the user. Unique within the instance of GitLab."""
  username: String!
  """Human-readable name of the user."""
  name: String!
  """State of the user."""
  state: UserState!
  """Web URL of the user."""
  webUrl: String!
  """URL of the user's avatar."""
  avatarUrl: String'''


def _namespace_ai_fields() -> str:
    return f'''  """AI-related data."""
  aiUsageData: AiUsageData
  """AI-related user metrics."""
  aiUserMetrics(
    """Date range to start from. Default is the beginning of current month."""
    startDate: Date
    """Date range to end at. Default is the end of current month."""
    endDate: Date
    """Sort AI user metrics."""
    sort: AiUserMetricsSort
    {CONNECTION_ARGS}
  ): AiUserMetricsConnection
  """AI-related metrics."""
  aiMetrics(
    """Date range to start from. Default is the beginning of current month."""
    startDate: Date
    """Date range to end at. Default is the end of current month."""
    endDate: Date
  ): AiMetrics'''


def sort_values() -> list[tuple[str, str, str]]:
    """`AiUserMetricsSort` values: (enum value, cube measure, 'asc'|'desc')."""
    out = []
    for direction in ("DESC", "ASC"):
        out.append((f"TOTAL_EVENTS_COUNT_{direction}", "totalEventCount", direction.lower()))
    for feature in FEATURES:
        for direction in ("DESC", "ASC"):
            out.append((f"{feature.enum}_TOTAL_COUNT_{direction}", feature.total_measure,
                        direction.lower()))
    for event in EVENTS:
        for direction in ("DESC", "ASC"):
            out.append((f"{event.enum}_{direction}", event.count_field, direction.lower()))
    return out


def sdl() -> str:
    parts = ['''
"""Date represented in ISO 8601. For example: "2026-05-12"."""
scalar Date

"""Time represented in ISO 8601. For example: "2021-03-09T14:58:50Z"."""
scalar Time

"""Represents untyped JSON"""
scalar JSON

"""A `UserID` is a global ID. It is encoded as a string. An example `UserID` is: `"gid://gitlab/User/1"`."""
scalar UserID

type Query {
  """Get information about current user."""
  currentUser: UserCore
  """Find a group."""
  group("""Full path of the group. For example, `gitlab-org/gitlab-foss`.""" fullPath: ID!): Group
  """Find a project."""
  project("""Full path of the project. For example, `gitlab-org/gitlab-foss`.""" fullPath: ID!): Project
  """AI-related data for the instance. Administrators only."""
  aiUsageData: AiInstanceUsageData
}

"""Information about pagination in a connection."""
type PageInfo {
  """When paginating forwards, the cursor to continue."""
  endCursor: String
  """When paginating forwards, are there more items?"""
  hasNextPage: Boolean!
  """When paginating backwards, are there more items?"""
  hasPreviousPage: Boolean!
  """When paginating backwards, the cursor to continue."""
  startCursor: String
}

"""Possible states of a user"""
enum UserState {
  active
  blocked
  deactivated
  banned
  ldap_blocked
  blocked_pending_approval
}

"""Core representation of a GitLab user."""
type UserCore {
''' + _user_fields() + '''
}

"""A user with add-on data."""
type AddOnUser {
''' + _user_fields() + '''
}

type Group {
  """ID of the namespace."""
  id: ID!
  """Name of the namespace."""
  name: String!
  """Path of the namespace."""
  path: String!
  """Full name of the namespace."""
  fullName: String!
  """Full path of the namespace."""
  fullPath: ID!
  """Visibility of the namespace."""
  visibility: String
  """Web URL of the group."""
  webUrl: String!
''' + _namespace_ai_fields() + '''
}

type Project {
  """ID of the project."""
  id: ID!
  """Name of the project without the namespace."""
  name: String!
  """Path of the project."""
  path: String!
  """Full path of the project."""
  fullPath: ID!
  """Name of the project including the namespace."""
  nameWithNamespace: String!
  """Visibility of the project."""
  visibility: String
  """Web URL of the project."""
  webUrl: String!
''' + _namespace_ai_fields() + f'''
}}

"""Usage data for events stored in the default PostgreSQL database. Data retained for three months. Requires a personal access token. Works only on top-level groups. Premium and Ultimate only."""
type AiUsageData {{
  """Events related to code suggestions."""
  codeSuggestionEvents({EVENT_ARGS}): CodeSuggestionEventConnection
  """All Duo usage events."""
  all({EVENT_ARGS}): AiUsageEventConnection
}}

"""Usage data for events stored in either PostgreSQL (default) or ClickHouse (when configured). Data retention: three months in PostgreSQL, indefinite in ClickHouse. Requires a personal access token. Works only on top-level groups. Premium and Ultimate only."""
type AiInstanceUsageData {{
  """All Duo usage events."""
  all({EVENT_ARGS}): AiInstanceUsageEventConnection
}}

type AiUsageEvent {{
{_event_fields()}
}}

"""Code Suggestion event."""
type CodeSuggestionEvent {{
{_event_fields()}
  """Programming language in the context of the suggestion."""
  language: String
  """Size of the code suggestion measured in lines of code."""
  suggestionSize: String
  """Unique tracking number of sequence of events for one suggestion."""
  uniqueTrackingId: String
}}

type AiInstanceUsageEvent {{
{_event_fields()}
  """Namespace hierarchy for Namespace or ProjectNamespace associated with the event."""
  namespacePath: String
  """Associated event context data."""
  extras: JSON
}}
''']
    for node in ("AiUsageEvent", "CodeSuggestionEvent", "AiInstanceUsageEvent", "AiUserMetrics"):
        parts.append(_connection(node))

    parts.append('"""Type of AI usage event."""\nenum AiUsageEventType {\n' + "\n".join(
        f'  """Event `{e.name}` (id {e.id}, feature {e.feature}{", deprecated" if e.deprecated else ""})."""\n  {e.enum}'
        for e in sorted(EVENTS, key=lambda e: e.id)) + "\n}\n")
    parts.append('"""Feature of AI usage events."""\nenum AiUsageEventFeature {\n' + "\n".join(
        f"  {f.enum}" for f in FEATURES) + "\n}\n")
    parts.append('"""Values for sorting AI user metrics."""\nenum AiUserMetricsSort {\n' + "\n".join(
        f"  {value}" for value, _m, _d in sort_values()) + "\n}\n")

    feature_fields = "\n".join(
        f'  """{f.name.replace("_", " ").capitalize()} user metrics for the user."""\n'
        f"  {f.field}: {f.user_metrics_type}" for f in FEATURES)
    parts.append(f'''
"""Pre-aggregated per-user metrics for GitLab Duo features."""
type AiUserMetrics {{
  """User assigned a GitLab Duo Enterprise seat."""
  user: AddOnUser!
  """Total count of all AI events of every feature."""
  totalEventCount: Int
  """Date of the last Duo activity of the user."""
  lastDuoActivityOn: Date
{feature_fields}
  """Total count of code suggestions accepted by the user."""
  codeSuggestionsAcceptedCount: Int @deprecated(reason: "Use `codeSuggestions.codeSuggestionAcceptedInIdeEventCount` instead. Deprecated in GitLab 18.7.")
  """Number of user interactions with GitLab Duo Chat."""
  duoChatInteractionsCount: Int @deprecated(reason: "Use `chat.requestDuoChatResponseEventCount` instead. Deprecated in GitLab 18.7.")
}}
''')
    for f in FEATURES:
        fields = "\n".join(
            f'  """Total count of `{e.name}` event."""\n  {e.count_field}: Int'
            for e in f.events)
        parts.append(f'''
"""{f.name.replace("_", " ").capitalize()} user metrics for a user."""
type {f.user_metrics_type} {{
  """Total count of all {f.name} events for the user."""
  totalEventCount: Int
  """Date of the last {f.name} event of the user."""
  lastDuoActivityOn: Date
{fields}
}}
''')

    metric_objects = "\n".join(
        f'  """{FEATURE_BY_NAME[name].name.replace("_", " ").capitalize()} event counts."""\n'
        f"  {field}: {_metrics_type(name)}" for field, name in METRICS_FEATURES.items())
    parts.append(f'''
"""AI-related metrics."""
type AiMetrics {{
  """Number of code contributors (pushes) in the namespace."""
  codeContributorsCount: Int
  """Code Suggestions metrics."""
  codeSuggestions(
    """Filter by languages; an empty list means all."""
    languages: [String!]
    """Filter by IDE names; an empty list means all."""
    ideNames: [String!]
  ): codeSuggestionMetrics
  """Number of contributors who used GitLab Duo Chat features."""
  duoChatContributorsCount: Int
  """Total assigned Duo Pro and Enterprise seats. Ignores the time period."""
  duoAssignedUsersCount: Int
  """Number of contributors who used any GitLab Duo feature."""
  duoUsedCount: Int
  """Number of users using the root cause analysis feature (Troubleshoot Job)."""
  rootCauseAnalysisUsersCount: Int
{metric_objects}
  """Number of code contributors who used GitLab Duo Code Suggestions features."""
  codeSuggestionsContributorsCount: Int @deprecated(reason: "Use `codeSuggestions.contributorsCount` instead. Deprecated in GitLab 18.0.")
  """Total count of code suggestions shown."""
  codeSuggestionsShownCount: Int @deprecated(reason: "Use `codeSuggestions.shownCount` instead. Deprecated in GitLab 18.0.")
  """Total count of code suggestions accepted."""
  codeSuggestionsAcceptedCount: Int @deprecated(reason: "Use `codeSuggestions.acceptedCount` instead. Deprecated in GitLab 18.0.")
}}

"""Code Suggestions metrics."""
type codeSuggestionMetrics {{
  """Number of code contributors who used GitLab Duo Code Suggestions features."""
  contributorsCount: Int
  """Total count of code suggestions shown."""
  shownCount: Int
  """Total count of code suggestions accepted."""
  acceptedCount: Int
  """Sum of lines of code from code suggestions shown."""
  shownLinesOfCode: Int
  """Sum of lines of code from code suggestions accepted."""
  acceptedLinesOfCode: Int
  """List of languages with at least one suggestion shown or accepted."""
  languages: [String!]
  """List of IDEs with at least one suggestion shown or accepted."""
  ideNames: [String!]
}}
''')
    for name in METRICS_FEATURES.values():
        f = FEATURE_BY_NAME[name]
        fields = "\n".join(f'  """Total count of `{e.name}` event."""\n  {e.count_field}: Int'
                           for e in f.events)
        parts.append(f'"""{f.name.replace("_", " ").capitalize()} event counts."""\n'
                     f"type {_metrics_type(name)} {{\n{fields}\n}}\n")
    return "\n".join(p.strip("\n") + "\n" for p in parts)


def _metrics_type(feature: str) -> str:
    from .events import camelize
    return f"{camelize(feature)}Metrics"


# --------------------------------------------------------------------------- scalars

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_GID = re.compile(r"^gid://gitlab/(?P<model>[A-Za-z:]+)/(?P<id>\d+)$")


def _parse_date(value: Any) -> dt.date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise GraphQLError("invalid date")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise GraphQLError("invalid date") from None


def _serialize_date(value: Any) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    return str(value)[:10]


def _parse_user_id(value: Any) -> int:
    match = _GID.match(value) if isinstance(value, str) else None
    if match is None:
        raise GraphQLError(f"{_inspect(value)} is not a valid Global ID")
    if match["model"] != "User":
        raise GraphQLError(f"{_inspect(value)} does not represent an instance of User")
    return int(match["id"])


def _inspect(value: Any) -> str:
    return '"' + value.replace('"', '\\"') + '"' if isinstance(value, str) else repr(value)


def _literal(parse):
    def parse_literal(node, _variables=None):
        if not isinstance(node, StringValueNode):
            raise GraphQLError("Expected a string")
        return parse(node.value)
    return parse_literal


def _configure(scalar, serialize, parse_value, parse_literal) -> None:
    """Give a scalar built from SDL its coercion functions (graphql-core 3.2 and 3.3 names)."""
    scalar.serialize = scalar.coerce_output_value = serialize
    scalar.parse_value = scalar.coerce_input_value = parse_value
    scalar.parse_literal = parse_literal


@functools.lru_cache(maxsize=1)
def schema() -> GraphQLSchema:
    built = build_schema(sdl())
    _configure(built.type_map["Date"], _serialize_date, _parse_date, _literal(_parse_date))
    _configure(built.type_map["Time"], lambda value: value, lambda value: value,
               _literal(lambda value: value))
    _configure(built.type_map["UserID"], lambda value: f"gid://gitlab/User/{value}",
               _parse_user_id, _literal(_parse_user_id))
    _configure(built.type_map["JSON"], lambda value: value, lambda value: value,
               lambda node, variables=None: value_from_ast_untyped(node, variables))
    return built
