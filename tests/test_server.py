"""The HTTP server for real: `duckcube serve` in a subprocess, spoken to over loopback."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import jwt
import pytest

CONFORMANCE = Path(__file__).parent / "conformance"
RECORDED_AT = "2026-11-22T11:10:14Z"


SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    env = dict(os.environ, CUBEJS_API_SECRET=SECRET, DUCKCUBE_NOW=RECORDED_AT)
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", "--models", str(CONFORMANCE / "model"),
         "--db", str(CONFORMANCE / "data"), "--port", str(port)],
        env=env, cwd=Path(__file__).parent.parent, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/readyz", timeout=1)
            break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(process.stdout.read())
            time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(timeout=10)


def call(url: str, body=None, token: str | None = None):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = token
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def token() -> str:
    return jwt.encode({"sub": "tester"}, SECRET, algorithm="HS256")


def test_load_answers_with_a_valid_token(server):
    status, body, _ = call(server + "/cubejs-api/v1/load",
                           {"query": {"measures": ["Orders.count"]}}, token())
    assert (status, body["data"]) == (200, [{"Orders.count": "120"}])


def test_bearer_prefix_is_accepted(server):
    status, _, _ = call(server + "/cubejs-api/v1/load",
                        {"query": {"measures": ["Orders.count"]}}, "Bearer " + token())
    assert status == 200


def test_missing_token_is_403(server):
    assert call(server + "/cubejs-api/v1/meta")[:2] == (
        403, {"error": "Authorization header isn't set"})


def test_expired_token_is_invalid(server):
    expired = jwt.encode({"exp": 1}, SECRET, algorithm="HS256")
    assert call(server + "/cubejs-api/v1/meta", token=expired)[:2] == (403, {"error": "Invalid token"})


def test_malformed_json_body_is_a_400(server):
    request = urllib.request.Request(server + "/cubejs-api/v1/load", data=b"{nope",
                                     headers={"Authorization": token(),
                                              "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)
    assert error.value.code == 400
    assert json.loads(error.value.read())["error"].startswith("Unable to decode")


def test_query_errors_come_back_in_cube_shape(server):
    status, body, _ = call(server + "/cubejs-api/v1/load",
                           {"query": {"measures": ["Nope.count"]}}, token())
    assert (status, body) == (400, {"type": "UserError",
                                    "error": "Cube 'Nope' not found for path 'Nope.count'"})


def test_cors_is_open(server):
    _, _, headers = call(server + "/cubejs-api/v1/meta", token=token())
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_health_endpoints_need_no_token(server):
    assert call(server + "/livez")[:2] == (200, {"health": "HEALTH"})
