"""A Cube project directory (model/, globals.py, cube.py, .env) served unchanged."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import jwt
import pytest

from engine import Engine
from engine.errors import ModelError
from engine.model import read_env_file, read_project

ORDERS = """\
cubes:
  - name: orders
    sql_table: orders
    measures:
      - name: count
        type: count
{%- for column in amount_columns %}
      - name: {{ "total_" ~ column }}
        type: sum
        sql: {{ column }}
{%- endfor %}
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
      - name: status
        sql: status
        type: string
"""

USERS_JS = """\
cube(`users`, {
  sql_table: `users`,
  measures: { count: { type: `count` } },
  dimensions: { id: { sql: `id`, type: `number`, primaryKey: true } },
});
"""

VIEW = """\
views:
  - name: sales
    cubes:
      - join_path: orders
        includes: [count, status]
"""

GLOBALS = """\
from cube import TemplateContext
template = TemplateContext()
template.add_variable("amount_columns", ["amount"])
"""

CONFIG = """\
from cube import config

@config('context_to_app_id')
def context_to_app_id(ctx):
    return ctx['securityContext'].get('tenant', 'default')
"""


def make_project(root: Path, env: str | None = None) -> Path:
    (root / "model" / "cubes").mkdir(parents=True)
    (root / "model" / "views").mkdir()
    (root / "model" / "cubes" / "orders.yml").write_text(ORDERS)
    (root / "model" / "cubes" / "users.js").write_text(USERS_JS)
    (root / "model" / "views" / "sales.yml").write_text(VIEW)
    (root / "model" / "globals.py").write_text(GLOBALS)
    (root / "cube.py").write_text(CONFIG)
    (root / ".env").write_text(env if env is not None else
                               "# Cube project settings\nCUBEJS_DB_TYPE=duckdb\n"
                               "CUBEJS_DB_DUCKDB_DATABASE_PATH=data/shop.duckdb\n"
                               "export CUBEJS_API_SECRET='project-secret'\n")
    (root / "data").mkdir()
    connection = duckdb.connect(str(root / "data" / "shop.duckdb"))
    connection.execute("CREATE TABLE orders AS SELECT * FROM (VALUES (1, 'open', 5), "
                       "(2, 'open', 7), (3, 'done', 1)) t(id, status, amount)")
    connection.execute("CREATE TABLE users AS SELECT 1 AS id")
    connection.close()
    return root


def test_env_file_lines_are_read_like_dotenv(tmp_path):
    (tmp_path / ".env").write_text("# comment\nA=1\nexport B='two words'\nC=\"x\"  \n"
                                   "D=plain # trailing comment\n\n")
    assert read_env_file(tmp_path / ".env") == {"A": "1", "B": "two words", "C": "x",
                                                 "D": "plain"}


def test_project_layout_is_read(tmp_path, monkeypatch):
    monkeypatch.delenv("CUBEJS_API_SECRET", raising=False)
    project = read_project(make_project(tmp_path))
    assert project.models == tmp_path / "model"
    assert project.database == tmp_path / "data" / "shop.duckdb"
    assert project.api_secret == "project-secret"
    assert project.config.context_to_app_id({"securityContext": {"tenant": "t1"}}) == "t1"


def test_process_environment_wins_over_env_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CUBEJS_API_SECRET", "from-environment")
    assert read_project(make_project(tmp_path)).api_secret == "from-environment"


def test_a_database_type_other_than_duckdb_is_refused(tmp_path):
    make_project(tmp_path, env="CUBEJS_DB_TYPE=postgres\n")
    with pytest.raises(ModelError, match="CUBEJS_DB_TYPE=postgres"):
        read_project(tmp_path)


def test_engine_project_loads_cubes_views_js_and_jinja_and_answers(tmp_path):
    engine = Engine(project=make_project(tmp_path))
    assert sorted(engine.model.cubes) == ["orders", "sales", "users"]
    body = engine.load({"measures": ["orders.count", "orders.total_amount"],
                        "dimensions": ["orders.status"], "order": {"orders.status": "asc"}})
    assert body["data"] == [
        {"orders.status": "done", "orders.count": "1", "orders.total_amount": "1"},
        {"orders.status": "open", "orders.count": "2", "orders.total_amount": "12"}]
    assert engine.load({"measures": ["sales.count"]})["data"] == [{"sales.count": "3"}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_duckcube_serve_project_serves_it_with_the_env_secret(tmp_path):
    make_project(tmp_path)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "CUBEJS_API_SECRET"}
    process = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--project",
                                str(tmp_path), "--port", str(port)],
                               cwd=Path(__file__).parents[2], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(process.stdout.read().decode())
                time.sleep(0.1)
        query = json.dumps({"query": {"measures": ["orders.count"]}}).encode()
        token = jwt.encode({}, "project-secret", algorithm="HS256")
        request = urllib.request.Request(base + "/cubejs-api/v1/load", data=query,
                                         headers={"Authorization": token,
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["data"] == [{"orders.count": "3"}]
        unsigned = urllib.request.Request(base + "/cubejs-api/v1/load", data=query,
                                          headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(unsigned, timeout=10)
        assert refused.value.code == 403
    finally:
        process.terminate()
        process.wait(timeout=10)
