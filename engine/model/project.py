"""A Cube project directory, read as Cube reads it.

    project/
      model/            # the data model (cubes/, views/, any nesting): YAML, Jinja, JS
        globals.py      # Python helpers for Jinja templates
      cube.py           # configuration (`from cube import config`), optional
      .env              # CUBEJS_DB_TYPE=duckdb, CUBEJS_DB_DUCKDB_DATABASE_PATH, CUBEJS_API_SECRET

    project = read_project("my-cube-project")
    project.models, project.database, project.api_secret

The process environment wins over `.env` (dotenv's rule, which Cube uses). The model directory
is `CUBEJS_SCHEMA_PATH`, else cube.py's `config.schema_path`, else `model/` (Cube's legacy
`schema/` when only that exists). The database is `CUBEJS_DB_DUCKDB_DATABASE_PATH`, relative
to the project; `CUBEJS_DB_TYPE`, when set, must be `duckdb`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ModelError

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def read_env_file(path: Path) -> dict[str, str]:
    """`KEY=value` lines of a .env file (comments, `export`, single or double quotes)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ModelError(f"not a KEY=value line: {line.strip()!r}", str(path), number)
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
            if line.split("=", 1)[1].strip().startswith('"'):
                value = value.replace("\\n", "\n")
        else:
            value = re.sub(r"\s+#.*$", "", value)
        values[key] = value
    return values


@dataclass
class Project:
    root: Path
    models: Path
    env: dict[str, str] = field(default_factory=dict)
    database: Path | None = None
    api_secret: str | None = None
    # cube.py's `config` (duckcube's `cube.Configuration`), when the project has one.
    config: Any = None

    def setting(self, name: str) -> str | None:
        return self.env.get(name)

    def compile_context(self, security_context: dict | None = None) -> dict:
        """What models see as COMPILE_CONTEXT. Cube compiles one model per `context_to_app_id`
        with that request's context; duckcube compiles one, for `security_context` ({})."""
        return {"securityContext": dict(security_context or {})}


def read_project(directory: str | Path) -> Project:
    root = Path(directory)
    if not root.is_dir():
        raise ModelError(f"project directory not found: {root}")
    dotenv = read_env_file(root / ".env")
    env = {key: os.environ.get(key, value) for key, value in dotenv.items()}
    for key in ("CUBEJS_DB_TYPE", "CUBEJS_DB_DUCKDB_DATABASE_PATH", "CUBEJS_API_SECRET",
                "CUBEJS_SCHEMA_PATH"):
        if key in os.environ:
            env[key] = os.environ[key]
    config = _read_config(root)
    db_type = env.get("CUBEJS_DB_TYPE")
    if db_type and db_type.lower() != "duckdb":
        raise ModelError(f"CUBEJS_DB_TYPE={db_type}: duckcube runs projects on DuckDB only "
                         "(set CUBEJS_DB_TYPE=duckdb, or pass the data with --db)",
                         str(root / ".env"))
    schema = env.get("CUBEJS_SCHEMA_PATH") or getattr(config, "schema_path", None)
    if schema:
        models = root / schema
    elif not (root / "model").is_dir() and (root / "schema").is_dir():
        models = root / "schema"
    else:
        models = root / "model"
    if not models.is_dir():
        raise ModelError(f"the project has no model directory: {models}")
    database_path = env.get("CUBEJS_DB_DUCKDB_DATABASE_PATH")
    database = (root / database_path) if database_path else None
    secret = env.get("CUBEJS_API_SECRET") or getattr(config, "api_secret", None) or None
    return Project(root=root, models=models, env=env, database=database, api_secret=secret,
                   config=config)


def _read_config(root: Path) -> Any:
    """Run cube.py with the `cube` module importable; its `config`, or None."""
    path = root / "cube.py"
    if not path.is_file():
        return None
    from .jinja import cube_module, run_python_file
    with cube_module(root) as module:
        run_python_file(path, "cube.py")
        return module.config
