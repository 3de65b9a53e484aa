"""engine.testing and its pytest plugin: strategies draw valid queries, invalid queries come with
their error, each invariant holds on a correct engine and catches the fault it is named after.

Hypothesis runs derandomized with few examples, so the suite is fast and the same on every run.
"""

import copy
import functools
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from engine import Engine
from engine.testing import (FEATURES, INVARIANTS, InvalidQuery, additive_measures_sum_to_total,
                            assert_rejected, column_values, compiles_and_runs, cube_query,
                            dry_run_round_trips, filter_and_negation_partition, invalid_queries,
                            order_is_respected, pages_concatenate, queries, reachable_cubes)

pytest_plugins = ["engine.testing.pytest_plugin", "pytester"]

TESTS = Path(__file__).parent
PROJECT = TESTS.parent
CONFORMANCE = TESTS / "conformance"
CHECK_MODELS = TESTS / "check_models"
NOW = "2026-11-22T11:10:14Z"

FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
SEARCH = settings(max_examples=300, deadline=None, derandomize=True, database=None)

CONFORMANCE_ENGINE = Engine(models=CONFORMANCE / "model", database=CONFORMANCE / "data", now=NOW)


@pytest.fixture(scope="session")
def cube_engine() -> Engine:
    """What a user's conftest does to point the plugin's fixtures at their own engine."""
    return CONFORMANCE_ENGINE


def members_of(query: dict) -> list[str]:
    paths = list(query.get("measures", [])) + list(query.get("dimensions", []))
    paths += [td["dimension"] for td in query.get("timeDimensions", [])]
    paths += list(query.get("segments", []))
    stack = list(query.get("filters", []))
    while stack:
        node = stack.pop()
        if "or" in node or "and" in node:
            stack.extend(node.get("or", node.get("and")))
        else:
            paths.append(node["member"])
    return paths


class Tampered:
    """An engine with one deliberate fault: `load` / `dry_run` answers pass through `change`."""

    def __init__(self, engine: Engine, load=None, dry_run=None, query=None):
        self.model = engine.model
        self._engine = engine
        self._load, self._dry_run, self._query = load, dry_run, query

    def load(self, query):
        query = self._query(copy.deepcopy(query)) if self._query else query
        result = self._engine.load(query)
        return self._load(query, result) if self._load else result

    def dry_run(self, query):
        result = self._engine.dry_run(query)
        return self._dry_run(result) if self._dry_run else result


# --- queries: what they draw -------------------------------------------------------------------


@FAST
@given(queries(CONFORMANCE_ENGINE))
def test_drawn_queries_run_on_the_conformance_model(query):
    compiles_and_runs(CONFORMANCE_ENGINE, query)


# The product-analytics cubes, whose tables fixtures/data holds (the Duo cubes read theirs
# from fixtures/data/duo).
PRODUCT_ANALYTICS = ("TrackedEvents", "Sessions", "ReturningUsers")


@functools.cache
def shipped_engine() -> Engine:
    return Engine(models=PROJECT / "cubes", database=PROJECT / "fixtures" / "data", now=NOW)


@FAST
@given(st.deferred(lambda: queries(shipped_engine(), cubes=PRODUCT_ANALYTICS)))
def test_drawn_queries_run_on_the_shipped_models(query):
    compiles_and_runs(shipped_engine(), query)


@FAST
@given(queries(CONFORMANCE_ENGINE.model))
def test_drawn_queries_use_only_public_members(query):
    for path in members_of(query):
        cube, name = path.split(".")[:2]
        assert CONFORMANCE_ENGINE.model.cubes[cube].member(name).public, path


@FAST
@given(queries(CONFORMANCE_ENGINE))
def test_drawn_queries_combine_only_cubes_the_joins_connect(query):
    model = CONFORMANCE_ENGINE.model
    cubes = {path.split(".")[0] for path in members_of(query)}
    assert any(cubes <= set(reachable_cubes(model, root)) for root in cubes), cubes


@FAST
@given(queries(CONFORMANCE_ENGINE, cubes=["Sessions"]))
def test_cubes_option_keeps_queries_to_those_cubes(query):
    assert {path.split(".")[0] for path in members_of(query)} == {"Sessions"}


@FAST
@given(queries(CONFORMANCE_ENGINE, features=()))
def test_without_features_queries_only_select_measures(query):
    assert set(query) == {"measures"}


@FAST
@given(queries(CONFORMANCE_ENGINE, require=("filters", "order", "limit")))
def test_required_parts_are_always_present(query):
    assert query["filters"] and query["order"] and query["limit"] >= 1


@FAST
@given(queries(CONFORMANCE_ENGINE, cubes=["Orders"], features={"time"}, require={"time"}))
def test_absolute_date_ranges_lie_around_the_data(query):
    first, last = CONFORMANCE_ENGINE.connection.execute(
        "SELECT min(created_at)::DATE, max(created_at)::DATE FROM orders").fetchone()
    low, high = first - timedelta(days=30), last + timedelta(days=30)
    for td in query["timeDimensions"]:
        if isinstance(td.get("dateRange"), list):
            assert low <= date.fromisoformat(td["dateRange"][0]) <= high, td


def test_column_values_are_the_distinct_values_the_data_holds():
    assert sorted(column_values(CONFORMANCE_ENGINE, "Orders.status")) == \
        ["cancelled", "completed", "processing", "shipped"]


def test_unknown_feature_is_refused():
    with pytest.raises(ValueError, match="unknown features: joins"):
        queries(CONFORMANCE_ENGINE, features=FEATURES | {"joins"})


def test_failing_query_shrinks_to_the_member_at_fault():
    smallest = find(queries(CONFORMANCE_ENGINE), lambda q: "Users.city" in members_of(q),
                    settings=SEARCH)
    assert smallest == {"dimensions": ["Users.city"]}


# --- invalid queries ---------------------------------------------------------------------------


@FAST
@given(invalid_queries(CONFORMANCE_ENGINE))
def test_invalid_queries_fail_with_the_error_they_are_paired_with(invalid):
    assert_rejected(CONFORMANCE_ENGINE, invalid)


def test_unknown_member_is_paired_with_cubes_not_found_error():
    invalid = find(invalid_queries(CONFORMANCE_ENGINE),
                   lambda i: i.reason == "unknown member in measures", settings=SEARCH)
    (path,) = invalid.query["measures"]
    name = path.split(".")[1]
    assert (invalid.status, invalid.body) == (
        400, {"type": "UserError", "error": f"'{name}' not found for path '{path}'"})


def test_assert_rejected_fails_when_the_engine_accepts_the_query():
    accepted = InvalidQuery("not invalid", {"measures": ["Orders.count"]}, 400, {"error": "x"})
    with pytest.raises(AssertionError, match="accepted an invalid query"):
        assert_rejected(CONFORMANCE_ENGINE, accepted)


def test_assert_rejected_fails_on_a_different_error():
    wrong = InvalidQuery("unknown member", {"measures": ["Orders.nope"]}, 400,
                         {"type": "UserError", "error": "something else"})
    with pytest.raises(AssertionError, match="with the wrong error"):
        assert_rejected(CONFORMANCE_ENGINE, wrong)


# --- invariants: each holds on the engine ------------------------------------------------------

SUITED = {  # queries that give each invariant something to compare
    "additive_measures_sum_to_total": dict(features=FEATURES - {"measure_filters"},
                                           require={"dimensions"}),
    "filter_and_negation_partition": dict(features=FEATURES - {"measure_filters"},
                                          require={"filters"}),
    "pages_concatenate": dict(require={"dimensions"}),
}


@pytest.mark.parametrize("name", list(INVARIANTS))
def test_invariant_holds_on_the_conformance_model(name):
    @FAST
    @given(queries(CONFORMANCE_ENGINE, **SUITED.get(name, {})))
    def holds(query):
        INVARIANTS[name](CONFORMANCE_ENGINE, query)
    holds()


@pytest.mark.parametrize("query", [
    {"measures": ["Users.averageAge"],
     "filters": [{"member": "Orders.status", "operator": "equals", "values": ["completed"]}]},
    {"measures": ["Users.averageAge"],
     "timeDimensions": [{"dimension": "Orders.createdAt",
                         "dateRange": ["2024-01-01", "2024-06-30"]}]},
])
def test_fanned_out_measure_filtered_on_the_joined_cube_runs(query):
    compiles_and_runs(CONFORMANCE_ENGINE, query)


# --- invariants: each catches its fault --------------------------------------------------------

GROUPED = {"measures": ["Orders.count"], "dimensions": ["Orders.status"]}


def test_compiles_and_runs_catches_a_row_missing_an_annotated_column():
    def drop_status(query, result):
        result["data"] = [{k: v for k, v in row.items() if k != "Orders.status"}
                          for row in result["data"]]
        return result
    with pytest.raises(AssertionError, match="compiles_and_runs: row 0 has keys"):
        compiles_and_runs(Tampered(CONFORMANCE_ENGINE, load=drop_status), GROUPED)


def test_compiles_and_runs_catches_a_refused_query():
    with pytest.raises(AssertionError, match="refused a valid query: 400 'nope' not found"):
        compiles_and_runs(CONFORMANCE_ENGINE, {"measures": ["Orders.nope"]})


def test_additive_measures_catch_a_join_that_repeats_rows():
    duplicated = Engine(models=CHECK_MODELS / "duplicate_key", database=CHECK_MODELS / "data")
    with pytest.raises(AssertionError, match="Orders.count summed over the groups of "
                                             "Customers.city is 15, ungrouped it is 12"):
        additive_measures_sum_to_total(
            duplicated, {"measures": ["Orders.count"], "dimensions": ["Customers.city"]})


def test_filter_partition_catches_notequals_dropping_null_rows():
    # SQL's own rule (`city <> 'Paris'` drops NULL cities) instead of Cube's (keeps them).
    def sql_null_rule(query):
        for leaf in query.get("filters", []):
            if leaf.get("operator") == "notEquals":
                query["filters"].append({"member": leaf["member"], "operator": "set"})
                break
        return query
    with pytest.raises(AssertionError, match="filter_and_negation_partition: Users.count"):
        filter_and_negation_partition(
            Tampered(CONFORMANCE_ENGINE, query=sql_null_rule),
            {"measures": ["Users.count"],
             "filters": [{"member": "Users.city", "operator": "equals", "values": ["Paris"]}]})


def test_pages_concatenate_catches_an_ignored_offset():
    def no_offset(query):
        query.pop("offset", None)
        return query
    with pytest.raises(AssertionError, match="pages_concatenate: page at offset"):
        pages_concatenate(Tampered(CONFORMANCE_ENGINE, query=no_offset), GROUPED)


def test_order_is_respected_catches_reversed_rows():
    def reverse(query, result):
        result["data"] = result["data"][::-1]
        return result
    with pytest.raises(AssertionError, match="out of order on Orders.count"):
        order_is_respected(Tampered(CONFORMANCE_ENGINE, load=reverse), GROUPED)


def test_order_is_respected_puts_nulls_last_in_both_directions():
    for direction in ("asc", "desc"):
        order_is_respected(CONFORMANCE_ENGINE,
                           {"dimensions": ["Users.city"], "order": {"Users.city": direction}})


def test_dry_run_round_trip_catches_a_normalization_that_loses_a_filter():
    def lose_filters(result):
        result["normalizedQueries"][0]["filters"] = []
        return result
    filtered = {**GROUPED, "filters": [{"member": "Orders.status", "operator": "equals",
                                        "values": ["completed"]}]}
    with pytest.raises(AssertionError, match="dry_run_round_trips: the normalized query gives"):
        dry_run_round_trips(Tampered(CONFORMANCE_ENGINE, dry_run=lose_filters), filtered)


# --- the pytest plugin -------------------------------------------------------------------------


@FAST
@given(cube_query())
def test_cube_query_draws_from_the_tests_cube_engine(cube_engine, query):
    assert cube_engine is CONFORMANCE_ENGINE
    compiles_and_runs(cube_engine, query)


def test_cube_query_fixture_is_the_strategy_factory(cube_query):
    from engine import testing
    assert cube_query is testing.cube_query


README_TEST = '''
from hypothesis import given, settings
from engine.testing import compiles_and_runs, cube_query

@settings(max_examples=10, deadline=None, derandomize=True, database=None)
@given(cube_query())
def test_dashboard_never_breaks(cube_engine, query):
    compiles_and_runs(cube_engine, query)
'''


def test_plugin_builds_cube_engine_from_the_ini_file(pytester):
    pytester.makeini(f"""
        [pytest]
        cube_models = {CHECK_MODELS / 'clean'}
        cube_db = {CHECK_MODELS / 'data'}
        cube_now = {NOW}
    """)
    pytester.makeconftest('pytest_plugins = ["engine.testing.pytest_plugin"]')
    pytester.makepyfile(test_duckcube_plugin_dashboard=README_TEST)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_command_line_options_override_the_ini_file(pytester):
    pytester.makeini(f"""
        [pytest]
        cube_models = {CHECK_MODELS / 'no_such_models'}
    """)
    pytester.makeconftest('pytest_plugins = ["engine.testing.pytest_plugin"]')
    pytester.makepyfile(test_duckcube_plugin_options="""
        def test_models(cube_engine):
            assert set(cube_engine.model.cubes) == {"Orders", "Customers", "OrdersOverview"}
    """)
    result = pytester.runpytest("-p", "no:cacheprovider",
                                f"--cube-models={CHECK_MODELS / 'clean'}",
                                f"--cube-db={CHECK_MODELS / 'data'}")
    result.assert_outcomes(passed=1)
