"""`duckcube serve --dev`: model edits show up without a restart; a broken edit is reported and
the last good model keeps serving. This server runs without CUBEJS_API_SECRET (loopback only)."""

import shutil

import pytest

from serverkit import CONFORMANCE, Server, call, get, until_done

EXTRA = """\
cubes:
  - name: Extra
    sql_table: orders
    measures:
      - name: count
        type: count
"""


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    for file in (CONFORMANCE / "model").glob("*.yml"):
        shutil.copy(file, models / file.name)
    server = Server(["--models", str(models), "--db", "tests/conformance/data", "--dev"],
                    secret=None)
    yield server, models
    server.stop()


def cubes(server) -> list[str]:
    status, body, _ = call(f"{server.base}/cubejs-api/v1/meta", method="GET")
    assert status == 200
    return [c["name"] for c in body["cubes"]]


def load(server, query):
    return until_done(lambda: call(f"{server.base}/cubejs-api/v1/load", {"query": query}))


def test_startup_says_no_auth_and_dev_mode(dev):
    server, _ = dev
    assert "no auth: CUBEJS_API_SECRET unset, so serving on loopback only" in server.output
    assert "dev mode: reloading models from" in server.output


def test_edits_change_meta_and_answers_and_a_broken_edit_keeps_the_last_good_model(dev):
    server, models = dev
    assert "Extra" not in cubes(server)

    (models / "extra.yml").write_text(EXTRA)  # a new file
    assert "Extra" in cubes(server)
    assert load(server, {"measures": ["Extra.count"]})[1]["data"] == [{"Extra.count": "120"}]

    (models / "extra.yml").write_text(EXTRA.replace("type: count", "type: kount"))  # broken
    status, body, headers = call(f"{server.base}/cubejs-api/v1/meta", method="GET")
    assert "Extra" in [c["name"] for c in body["cubes"]]  # still the last good model
    assert headers["x-duckcube-model-error"].startswith("extra.yml:6: ")
    server.wait_lines(r"model reload failed, still serving the last good model: extra\.yml:6: ")
    assert load(server, {"measures": ["Extra.count"]})[1]["data"] == [{"Extra.count": "120"}]

    (models / "extra.yml").write_text(EXTRA.replace("name: count", "name: orders"))  # fixed
    status, body, headers = call(f"{server.base}/cubejs-api/v1/meta", method="GET")
    assert "x-duckcube-model-error" not in headers
    assert load(server, {"measures": ["Extra.orders"]})[1]["data"] == [{"Extra.orders": "120"}]
    status, body, _ = load(server, {"measures": ["Extra.count"]})
    assert status == 400 and "count" in body["error"]

    (models / "extra.yml").unlink()  # removed
    assert "Extra" not in cubes(server)


def test_an_edit_changes_cached_answers(dev):
    server, models = dev
    query = {"measures": ["Orders.count"]}
    assert load(server, query)[1]["data"] == [{"Orders.count": "120"}]
    orders = models / "orders.yml"
    original = orders.read_text()
    try:
        orders.write_text(original.replace("sql_table: orders",
                                           "sql: SELECT * FROM orders WHERE amount > 100"))
        changed = load(server, query)[1]["data"]
        assert changed != [{"Orders.count": "120"}]
    finally:
        orders.write_text(original)
    assert load(server, query)[1]["data"] == [{"Orders.count": "120"}]


def test_gitlab_routes_are_open_without_tokens_on_loopback(dev):
    server, _ = dev
    status, body, _ = call(f"{server.base}/api/v4/projects/5/product_analytics/request/meta",
                           method="GET")
    assert status == 200 and "Orders" in [c["name"] for c in body["cubes"]]
    status, body, _ = get(f"{server.base}/api/v4/projects/x/product_analytics/request/meta")
    assert (status, body) == (400, {"error": "project_id is invalid"})
