"""The GitLab Duo AI usage event registry, as data, in one place.

Mirrors `Gitlab::Tracking::AiTracking` (ee/lib/gitlab/tracking/ai_tracking.rb, GitLab EE master
2026-02-13): features in registration order, each with its events (id, name, deprecated or not)
and the `extras` keys its transformation block keeps. Everything that depends on the list of
events is generated from here:

* the per-event and per-feature measures of `cubes/duo_usage_events.yml`
  (`engine.web.duo.cubegen`, checked by a test),
* the GraphQL enums `AiUsageEventType`, `AiUsageEventFeature`, `AiUserMetricsSort`, the per-feature
  `<feature>UserMetrics` types with one `<eventName>EventCount` field per registered event, and
  the per-feature `aiMetrics` objects (`engine.web.duo.schema`),
* the event names and extras the fixture generator writes (`fixtures/duo_generate.py`).

As in GitLab, `registered_events(feature)` includes deprecated events (ids reserved for old data),
so deprecated events also get count fields and enum values.
"""

from __future__ import annotations

from dataclasses import dataclass

# Feature -> [(id, event name, deprecated)], in GitLab's registration order.
_REGISTRY: dict[str, list[tuple[int, str, bool]]] = {
    "code_suggestions": [
        (1, "code_suggestions_requested", True),
        (2, "code_suggestion_shown_in_ide", False),
        (3, "code_suggestion_accepted_in_ide", False),
        (4, "code_suggestion_rejected_in_ide", False),
        (5, "code_suggestion_direct_access_token_refresh", True),
    ],
    "chat": [
        (6, "request_duo_chat_response", False),
    ],
    "troubleshoot_job": [
        (7, "troubleshoot_job", False),
    ],
    "agent_platform": [
        (8, "agent_platform_session_created", False),
        (9, "agent_platform_session_started", False),
        (19, "agent_platform_session_finished", False),
        (20, "agent_platform_session_dropped", False),
        (21, "agent_platform_session_stopped", False),
        (22, "agent_platform_session_resumed", False),
    ],
    "code_review": [
        (10, "encounter_duo_code_review_error_during_review", False),
        (11, "find_no_issues_duo_code_review_after_review", False),
        (12, "find_nothing_to_review_duo_code_review_on_mr", False),
        (13, "post_comment_duo_code_review_on_diff", False),
        (14, "react_thumbs_up_on_duo_code_review_comment", False),
        (15, "react_thumbs_down_on_duo_code_review_comment", False),
        (16, "request_review_duo_code_review_on_mr_by_author", False),
        (17, "request_review_duo_code_review_on_mr_by_non_author", False),
        (18, "excluded_files_from_duo_code_review", False),
    ],
    "mcp": [
        (23, "start_mcp_tool_call", False),
        (24, "finish_mcp_tool_call", False),
    ],
}

# The `extras` keys each feature's transformation block keeps (allow-list slices of the context).
EXTRAS_KEYS: dict[str, tuple[str, ...]] = {
    "code_suggestions": (
        "unique_tracking_id", "suggestion_size", "language", "branch_name", "ide_name",
        "ide_vendor", "ide_version", "extension_name", "extension_version",
        "language_server_version", "model_name", "model_engine",
    ),
    "chat": (),
    "troubleshoot_job": ("job_id", "project_id", "pipeline_id", "merge_request_id"),
    "agent_platform": ("project_id", "session_id", "flow_type", "environment"),
    "code_review": (),
    "mcp": ("session_id", "tool_name", "has_tool_call_success", "failure_reason", "error_status"),
}

HIGHEST_EVENT_ID = 24  # "Current highest event ID: 24, next available: 25"


def camelize(snake: str, first_upper: bool = False) -> str:
    """`code_suggestion_shown_in_ide` -> `codeSuggestionShownInIde` (Rails' camelize(:lower))."""
    head, *rest = snake.split("_")
    head = head.capitalize() if first_upper else head
    return head + "".join(part.capitalize() for part in rest)


@dataclass(frozen=True)
class Event:
    id: int
    name: str             # code_suggestion_shown_in_ide
    feature: str          # code_suggestions
    deprecated: bool

    @property
    def enum(self) -> str:
        """GraphQL `AiUsageEventType` value: CODE_SUGGESTION_SHOWN_IN_IDE."""
        return self.name.upper()

    @property
    def count_field(self) -> str:
        """The per-event count field (GraphQL) and measure (cube): codeSuggestionShownInIdeEventCount."""
        return camelize(f"{self.name}_event_count")


@dataclass(frozen=True)
class Feature:
    name: str                  # code_suggestions
    events: tuple[Event, ...]
    extras_keys: tuple[str, ...]

    @property
    def enum(self) -> str:
        return self.name.upper()

    @property
    def field(self) -> str:
        """Field name on AiUserMetrics: codeSuggestions, troubleshootJob, ..."""
        return camelize(self.name)

    @property
    def user_metrics_type(self) -> str:
        """GitLab's `"#{feature.camelize(:lower)}UserMetrics"`: codeSuggestionsUserMetrics."""
        return f"{camelize(self.name)}UserMetrics"

    @property
    def total_measure(self) -> str:
        """Cube measure counting every event of the feature: codeSuggestionsTotalEventCount."""
        return f"{camelize(self.name)}TotalEventCount"

    @property
    def last_activity_measure(self) -> str:
        return f"{camelize(self.name)}LastActivityOn"

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(e.id for e in self.events)


FEATURES: tuple[Feature, ...] = tuple(
    Feature(name, tuple(Event(i, n, name, d) for i, n, d in events), EXTRAS_KEYS[name])
    for name, events in _REGISTRY.items()
)
FEATURE_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}
EVENTS: tuple[Event, ...] = tuple(e for f in FEATURES for e in f.events)
EVENT_BY_ID: dict[int, Event] = {e.id: e for e in EVENTS}
EVENT_BY_NAME: dict[str, Event] = {e.name: e for e in EVENTS}
EVENT_BY_ENUM: dict[str, Event] = {e.enum: e for e in EVENTS}
ALL_IDS: tuple[int, ...] = tuple(sorted(EVENT_BY_ID))

# Events by role, for the aggregate metrics (GitLab's services name ids the same way).
CODE_SUGGESTION_IDS = FEATURE_BY_NAME["code_suggestions"].ids        # codeSuggestionEvents forces these
CODE_SUGGESTION_CONTRIBUTOR_IDS = (1, 2, 5)  # contributorsCount: requested, shown, token refresh
SHOWN, ACCEPTED = EVENT_BY_NAME["code_suggestion_shown_in_ide"], EVENT_BY_NAME["code_suggestion_accepted_in_ide"]
CHAT = EVENT_BY_NAME["request_duo_chat_response"]
TROUBLESHOOT = EVENT_BY_NAME["troubleshoot_job"]

assert len(EVENT_BY_ID) == len(EVENTS) and max(EVENT_BY_ID) == HIGHEST_EVENT_ID
assert sorted(EVENT_BY_ID) == list(range(1, HIGHEST_EVENT_ID + 1))
