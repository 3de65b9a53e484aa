"""The event registry is the one source of the per-event measures and GraphQL fields; the
shipped Duo Parquet files are exactly what fixtures/duo_generate.py produces."""

from __future__ import annotations

import datetime as dt
import importlib.util

from duo_helpers import DATA, MODELS, ROOT, db
from engine.web.duo import cubegen
from engine.web.duo.events import ALL_IDS, EVENTS, FEATURES, camelize
from engine.web.duo.schema import schema, sort_values
from engine.model import load_model

ANCHOR = dt.date(2026, 11, 23)


def _generator():
    spec = importlib.util.spec_from_file_location("duo_generate_under_test",
                                                  ROOT / "fixtures" / "duo_generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_registry():
    assert ALL_IDS == tuple(range(1, 25))
    assert [f.enum for f in FEATURES] == ["CODE_SUGGESTIONS", "CHAT", "TROUBLESHOOT_JOB",
                                          "AGENT_PLATFORM", "CODE_REVIEW", "MCP"]
    assert [e.id for e in EVENTS if e.deprecated] == [1, 5]
    assert camelize("code_suggestion_accepted_in_ide_event_count") == "codeSuggestionAcceptedInIdeEventCount"
    assert [f.user_metrics_type for f in FEATURES][:2] == ["codeSuggestionsUserMetrics", "chatUserMetrics"]


def test_cube_file_is_generated_from_the_registry():
    assert (ROOT / "cubes" / "duo_usage_events.yml").read_text() == cubegen.render(), \
        "run: python -m engine.web.duo.cubegen"


def test_models_load_with_the_existing_cubes():
    model = load_model(MODELS)
    assert {"TrackedEvents", "Sessions", "ReturningUsers", "DuoUsageEvents", "DuoUsers", "DuoGroups",
            "DuoProjects", "DuoMembers", "DuoSeatAssignments", "DuoContributions"} <= set(model.cubes)
    measures = model.cubes["DuoUsageEvents"].measures
    for event in EVENTS:
        assert event.count_field in measures
    for feature in FEATURES:
        assert feature.total_measure in measures and feature.last_activity_measure in measures


def test_graphql_fields_are_generated_from_the_registry():
    s = schema()
    assert [v for v in s.type_map["AiUsageEventType"].values] == [e.enum for e in sorted(EVENTS, key=lambda e: e.id)]
    metrics = s.type_map["AiUserMetrics"].fields
    for feature in FEATURES:
        fields = s.type_map[feature.user_metrics_type].fields
        assert metrics[feature.field].type.name == feature.user_metrics_type
        assert set(fields) == {"totalEventCount", "lastDuoActivityOn"} | {e.count_field for e in feature.events}
    sorts = list(s.type_map["AiUserMetricsSort"].values)
    assert sorts == [v for v, _m, _d in sort_values()] and len(sorts) == 2 * (1 + 6 + 24)
    assert {"CODE_SUGGESTIONS_TOTAL_COUNT_DESC", "CODE_SUGGESTION_ACCEPTED_IN_IDE_ASC"} <= set(sorts)


def test_parquet_files_are_small():
    """(That they are exactly what the generator writes is checked, through create_tables, in
    test_http_and_export.test_serve_sample_database_has_both_domains.)"""
    assert sum(p.stat().st_size for p in DATA.glob("*.parquet")) < 1_500_000


def test_fixture_dates(db):
    lo, hi = db.execute("SELECT min(timestamp), max(timestamp) FROM duo_usage_events").fetchone()
    assert lo.date() >= dt.date(2024, 10, 1) and lo.date() <= dt.date(2024, 10, 7)
    assert hi.date() == ANCHOR and hi.hour < 12  # nothing after the frozen clock
    per_month = dict(db.execute("""SELECT strftime(timestamp, '%Y-%m'), count(*) FROM duo_usage_events
        GROUP BY 1""").fetchall())
    assert len(per_month) == 26 and min(per_month.values()) > 100
    assert per_month["2024-12"] > 300 and per_month["2025-09"] > 1000
    for table in ("duo_contributions", "duo_seat_assignments", "duo_members", "duo_users", "duo_groups",
                  "duo_projects"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 4


def test_days_do_not_depend_on_the_anchor():
    """A day's rows are the same whatever the anchor: an earlier anchor is a prefix."""
    gen = _generator()
    early = gen.generate(dt.date(2025, 10, 1)).rows["duo_usage_events"]
    late = gen.generate(ANCHOR).rows["duo_usage_events"]
    cut = dt.datetime(2025, 10, 1)
    assert [r for r in early if r[2] < cut] == [r for r in late if r[2] < cut]
    assert max(r[2] for r in early) < dt.datetime(2025, 10, 1, 12)
