"""Helpers for the live-server tests: a `duckcube serve` subprocess on a free loopback port, HTTP
calls, tokens, and a model with a deliberately slow cube."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import duckdb
import jwt

TESTS = Path(__file__).resolve().parent.parent
PROJECT = TESTS.parent
CONFORMANCE = TESTS / "conformance"
RECORDED_AT = "2026-11-22T11:10:14Z"
SECRET = "a-test-secret-that-is-long-enough-for-hs256"
ENDLESS_ROWS = 10 ** 12


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`duckcube serve ARGS` in a subprocess; `.base` is its URL, `.output` what it printed."""

    def __init__(self, args: list[str], secret: str | None = SECRET, env: dict | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("CUBEJS_API_SECRET", "CUBEJS_DEV_MODE")}
        environment["DUCKCUBE_NOW"] = RECORDED_AT
        if secret:
            environment["CUBEJS_API_SECRET"] = secret
        environment.update(env or {})
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "serve", "--port", str(self.port), *args],
            env=environment, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.base + "/readyz", timeout=1)
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("server did not start:\n" + self.output)
                time.sleep(0.05)

    def _read(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def mark(self) -> int:
        """Where the output is now (for `wait_lines`)."""
        return len(self.lines)

    def wait_lines(self, pattern: str, since: int = 0, count: int = 1,
                   timeout: float = 10) -> list[str]:
        """The first `count` lines after `since` matching `pattern` (a regex), waiting for the
        server's output to arrive (its log line is written as the response goes out)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in self.lines[since:] if re.search(pattern, line)]
            if len(found) >= count:
                return found[:count]
            assert time.monotonic() < deadline, f"no {pattern!r} in:\n{self.output}"
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def call(url: str, body=None, headers: dict | None = None, method: str | None = None,
         raw: bytes | None = None):
    """`(status, parsed JSON body, headers)`; the headers are case-insensitive."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null"), response.headers
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = text.decode(errors="replace")
        return error.code, parsed, error.headers


def get(url: str, params: dict | None = None, headers: dict | None = None):
    query = "?" + urllib.parse.urlencode(params) if params else ""
    return call(url + query, headers=headers, method="GET")


def token(secret: str = SECRET, **claims) -> str:
    return jwt.encode(claims or {"sub": "tester"}, secret, algorithm="HS256")


def until_done(send, limit: float = 30.0):
    """Send again while the answer is Continue wait: `(status, body, waits)`."""
    waits = 0
    deadline = time.monotonic() + limit
    while True:
        status, body, _ = send()
        if not (status == 200 and body == {"error": "Continue wait"}):
            return status, body, waits
        waits += 1
        assert time.monotonic() < deadline, "still Continue wait"


_ROWS: list[int] = []


def slow_rows(seconds: float = 0.6) -> int:
    """Rows of `range()` the Slow cube's checksum needs to take about `seconds` on this machine."""
    if not _ROWS:
        con = duckdb.connect(":memory:")
        con.execute("SET threads = 1")
        sql = "SELECT sum(hash(i) % 1000) FROM (SELECT i FROM range(?) t(i))"
        con.execute(sql, [1000]).fetchall()
        n = 4_000_000
        started = time.perf_counter()
        con.execute(sql, [n]).fetchall()
        elapsed = max(time.perf_counter() - started, 1e-3)
        _ROWS.append(max(int(n * seconds / elapsed), 1_000_000))
    return _ROWS[0]


def model_with_slow_cubes(directory: Path, rows: int | None = None) -> Path:
    """The conformance model plus `Slow` (about 0.6 s a query) and `Endless` (never finishes)."""
    directory.mkdir(parents=True, exist_ok=True)
    for file in (CONFORMANCE / "model").glob("*.yml"):
        shutil.copy(file, directory / file.name)
    (directory / "slow.yml").write_text(f"""\
cubes:
  - name: Slow
    sql: "SELECT i FROM range({rows or slow_rows()}) t(i)"
    measures:
      - name: checksum
        type: sum
        sql: "hash({{CUBE}}.i) % 1000"
  - name: Endless
    sql: "SELECT i FROM range({ENDLESS_ROWS}) t(i)"
    measures:
      - name: checksum
        type: sum
        sql: "hash({{CUBE}}.i) % 1000"
""")
    return directory
