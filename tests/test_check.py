"""`duckcube check`: each deliberately broken model in tests/check_models is reported, with the
member and file:line, and a clean model is reported clean.

The broken models are copies of tests/check_models/clean (Orders many_to_one Customers) with
one fault each, over the small CSV tables of tests/check_models/data.
"""

from pathlib import Path

import pytest

from engine.testing.check import main

TESTS = Path(__file__).parent
MODELS = TESTS / "check_models"
DATA = MODELS / "data"
CONFORMANCE = TESTS / "conformance"
NOW = "2026-11-22T11:10:14Z"


def check(capsys, model: str, examples: int = 0, models_root: Path = MODELS,
          data: Path = DATA, invariants: tuple[str, ...] = ()) -> tuple[int, str]:
    status = main(["--models", str(models_root / model), "--db", str(data),
                   "--examples", str(examples), "--now", NOW]
                  + [f"--invariant={name}" for name in invariants])
    return status, capsys.readouterr().out


def test_clean_model_has_nothing_wrong_with_its_data_and_members(capsys):
    status, out = check(capsys, "clean")
    assert status == 0, out
    assert out.strip() == ("duckcube check: tests/check_models/clean is clean "
                           "(3 cubes, 0 examples per invariant)").replace(
        "tests/check_models", str(MODELS))


def test_conformance_model_has_nothing_wrong_with_its_data_and_members(capsys):
    status, out = check(capsys, "model", models_root=CONFORMANCE, data=CONFORMANCE / "data")
    assert status == 0, out


def test_clean_model_passes_every_invariant(capsys):
    status, out = check(capsys, "clean", examples=10)
    assert status == 0, out


def test_duplicate_primary_key_is_reported_at_the_key(capsys):
    status, out = check(capsys, "duplicate_key")
    assert status == 1
    assert (f"{MODELS / 'duplicate_key' / 'customers.yml'}:11: Customers.id: primary key is "
            "not unique: 1 values repeat (e.g. 3 x2)") in out


def test_null_primary_key_is_reported_at_the_key(capsys):
    status, out = check(capsys, "null_key")
    assert status == 1
    assert (f"{MODELS / 'null_key' / 'customers.yml'}:8: Customers.email: primary key is NULL "
            "in 1 of 6 rows") in out


def test_many_to_one_join_that_repeats_rows_is_reported_at_the_join(capsys):
    status, out = check(capsys, "duplicate_key")
    assert status == 1
    assert (f"{MODELS / 'duplicate_key' / 'orders.yml'}:5: Orders -> Customers: many_to_one "
            "join repeats Orders rows (12 rows become 15)") in out


def test_join_on_the_wrong_column_is_reported_at_the_join(capsys):
    status, out = check(capsys, "wrong_join_column")
    assert status == 1
    assert (f"{MODELS / 'wrong_join_column' / 'orders.yml'}:5: Orders -> Customers: "
            "many_to_one join keys do not match: 12 of 12 Orders rows find no Customers row") in out


def test_member_whose_sql_fails_is_reported_at_the_member(capsys):
    status, out = check(capsys, "failing_sql")
    assert status == 1
    assert (f"{MODELS / 'failing_sql' / 'customers.yml'}:21: Customers.country: dimension SQL "
            "fails when queried alone: Error: Binder Error") in out


def test_hand_written_sum_over_a_fanned_out_cube_is_reported_at_the_measure(capsys):
    status, out = check(capsys, "hand_written_fan_out")
    assert status == 1
    assert (f"{MODELS / 'hand_written_fan_out' / 'orders.yml'}:14: Orders.customerAgeTotal: "
            "aggregates Customers rows from cube Orders: over Customers's own rows it is 214, "
            "but the query answers 364") in out


def test_each_broken_model_reports_only_its_own_fault(capsys):
    faults = {"null_key": 1, "wrong_join_column": 1, "failing_sql": 1,
              "hand_written_fan_out": 1, "duplicate_key": 2}  # the key, and the join it breaks
    for model, count in faults.items():
        status, out = check(capsys, model)
        assert out.count(f"{MODELS / model}") - 1 == count, out


def test_failing_invariant_is_reported_with_the_shrunk_query(capsys):
    status, out = check(capsys, "duplicate_key", examples=15,
                        invariants=("additive_measures_sum_to_total",))
    assert status == 1
    assert (f"{MODELS / 'duplicate_key' / 'orders.yml'}:9: additive_measures_sum_to_total: "
            "Orders.count summed over the groups of Customers.city is 15, ungrouped it is 12\n"
            '    query: {"measures": ["Orders.count"], "dimensions": ["Customers.city"]}') in out


def test_members_whose_sql_fails_are_left_out_of_the_invariant_queries(capsys):
    status, out = check(capsys, "failing_sql", examples=10,
                        invariants=("compiles_and_runs",))
    member_finding = [line for line in out.splitlines() if "Customers.country" in line]
    assert len(member_finding) == 2, out  # the finding and its query, nothing else


def test_model_that_cannot_load_exits_2(capsys):
    assert main(["--models", str(MODELS / "no_such_directory"), "--db", str(DATA)]) == 2
    assert "model directory not found" in capsys.readouterr().err
