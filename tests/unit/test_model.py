"""Model loading: what a valid model becomes, and how a broken one is reported."""

from pathlib import Path

import pytest

from engine.errors import ModelError
from engine.model import CubeRef, load_model

VALID = """\
cubes:
  - name: Orders
    sql_table: orders
    joins:
      - name: Users
        relationship: belongs_to
        sql: "{CUBE}.user_id = {Users.id}"
    measures:
      - name: count
        type: count
      - name: total
        type: sum
        sql: amount
      - name: average
        type: number
        sql: "{total} / {count}"
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
      - name: createdAt
        sql: created_at
        type: time
  - name: Users
    sql_table: users
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
"""


def write(tmp_path: Path, text: str, name: str = "model.yml") -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path


def test_bare_column_sql_gets_the_cube_prefix(tmp_path):
    model = load_model(write(tmp_path, VALID))
    assert model.cubes["Orders"].measures["total"].sql.parts == (CubeRef("Orders"), ".amount")


def test_join_relationship_aliases_are_normalized(tmp_path):
    model = load_model(write(tmp_path, VALID))
    assert model.cubes["Orders"].joins["Users"].relationship == "many_to_one"


def test_primary_keys_are_hidden_unless_public(tmp_path):
    model = load_model(write(tmp_path, VALID))
    assert model.cubes["Orders"].dimensions["id"].public is False
    assert model.cubes["Orders"].dimensions["createdAt"].public is True


def test_titles_follow_cube_naming(tmp_path):
    model = load_model(write(tmp_path, VALID))
    created = model.cubes["Orders"].dimensions["createdAt"]
    assert (created.title, created.short_title) == ("Orders Created at", "Created at")


def test_unknown_key_names_file_line_and_member(tmp_path):
    broken = VALID.replace("      - name: total\n        type: sum\n",
                           "      - name: total\n        tpye: sum\n")
    with pytest.raises(ModelError) as error:
        load_model(write(tmp_path, broken))
    assert str(error.value) == "model.yml:12: cube 'Orders' measure 'total': unknown key 'tpye'"


def test_bad_measure_type_is_reported_with_its_line(tmp_path):
    broken = VALID.replace("type: sum", "type: summ")
    with pytest.raises(ModelError) as error:
        load_model(write(tmp_path, broken))
    assert error.value.line == 12
    assert str(error.value).startswith("model.yml:12: cube 'Orders' measure 'total': 'type': Input")


def test_duplicate_member_is_refused(tmp_path):
    broken = VALID.replace("      - name: average\n", "      - name: total\n")
    with pytest.raises(ModelError, match=r"model.yml:14: cube 'Orders': duplicate member 'total'"):
        load_model(write(tmp_path, broken))


def test_reference_to_missing_member_is_refused(tmp_path):
    broken = VALID.replace("{total} / {count}", "{total} / {cnt}")
    with pytest.raises(ModelError, match=r"model.yml:14: cube 'Orders' measure 'average': "
                                         r"reference to missing member 'Orders.cnt'"):
        load_model(write(tmp_path, broken))


def test_join_to_missing_cube_is_refused(tmp_path):
    broken = VALID.replace("- name: Users\n        relationship", "- name: Buyers\n        relationship")
    with pytest.raises(ModelError, match="Cube Buyers doesn't exist"):
        load_model(write(tmp_path, broken))


def test_cube_needs_sql_or_sql_table(tmp_path):
    broken = VALID.replace("    sql_table: users\n", "")
    with pytest.raises(ModelError, match="You must use either sql or sqlTable"):
        load_model(write(tmp_path, broken))


def test_invalid_yaml_reports_its_line(tmp_path):
    with pytest.raises(ModelError) as error:
        load_model(write(tmp_path, "cubes:\n  - name: [unclosed\n"))
    assert error.value.file == "model.yml" and error.value.line == 3


def test_same_cube_in_two_files_is_refused(tmp_path):
    write(tmp_path, VALID, "a.yml")
    write(tmp_path, VALID, "b.yml")
    with pytest.raises(ModelError, match="cube 'Orders' is defined twice"):
        load_model(tmp_path)


def test_circular_measure_references_are_refused(tmp_path):
    broken = VALID.replace("{total} / {count}", "{average} + 1")
    with pytest.raises(ModelError, match="circular reference Orders.average -> Orders.average"):
        load_model(write(tmp_path, broken))


def test_connected_components_cover_joined_cubes_only(tmp_path):
    text = VALID + """\
  - name: Lonely
    sql_table: lonely
    measures:
      - name: count
        type: count
"""
    assert load_model(write(tmp_path, text)).connected_components() == {"Orders": 1, "Users": 1}


def test_member_sql_that_cannot_be_read_fails_at_load(tmp_path):
    from engine import Engine
    broken = VALID.replace("sql: amount", "sql: \"amount +* (\"")
    with pytest.raises(ModelError, match=r"model.yml:11: cube 'Orders' measure 'total': SQL could "
                                         r"not be read"):
        Engine(models=write(tmp_path, broken))


def test_member_sql_naming_another_cube_directly_is_refused(tmp_path):
    broken = VALID.replace("sql: amount", "sql: \"{Users}.amount\"")
    with pytest.raises(ModelError, match=r"Member 'Orders.total' references foreign cubes: Users. "
                                         r"Please split and move this definition"):
        load_model(write(tmp_path, broken))
