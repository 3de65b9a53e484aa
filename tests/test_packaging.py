"""A non-editable install serves the shipped models and sample data from any directory: the wheel
carries cubes/ and the fixture generators as data files (`engine.shipped` finds them)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with duckcube installed from a wheel built here; its
    dependencies are this interpreter's (a .pth file): only the build backend is fetched."""
    work = tmp_path_factory.mktemp("install")
    # Built from the committed files alone, as a fresh clone would be (no stale build/ tree).
    source = work / "source"
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(work / "dist"), str(source)],
                   check=True, timeout=300, capture_output=True)
    wheel = next((work / "dist").glob("duckcube-*.whl"))
    env = work / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(wheel)], check=True, timeout=300, capture_output=True)
    return env


def test_the_install_carries_the_shipped_models_and_data_generators(installed):
    shared = installed / "share" / "duckcube"
    assert sorted(p.name for p in (shared / "cubes").glob("*.yml")) == sorted(
        p.name for p in (ROOT / "cubes").glob("*.yml"))
    assert (shared / "fixtures" / "generate.py").is_file()
    assert (shared / "fixtures" / "duo_generate.py").is_file()


def test_duckcube_serve_from_another_directory_serves_the_shipped_models(installed, tmp_path):
    port = free_port()
    server = subprocess.Popen([str(installed / "bin" / "duckcube"), "serve", "--port", str(port)],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        query = {"measures": ["TrackedEvents.count"], "timeDimensions": [
            {"dimension": "TrackedEvents.derivedTstamp", "dateRange": "This week"}]}
        request = urllib.request.Request(base + "/cubejs-api/v1/load",
                                         data=json.dumps({"query": query}).encode(),
                                         headers={"Content-Type": "application/json"})
        body = json.loads(urllib.request.urlopen(request, timeout=30).read())
        assert int(body["data"][0]["TrackedEvents.count"]) > 0
        meta = json.loads(urllib.request.urlopen(base + "/cubejs-api/v1/meta", timeout=30).read())
        assert "TrackedEvents" in [cube["name"] for cube in meta["cubes"]]
    finally:
        server.terminate()
        server.wait(timeout=30)
