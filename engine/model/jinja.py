"""Jinja-templated YAML models and their Python helpers (`globals.py`), as Cube runs them.

A YAML model file is rendered as a Jinja template first when its name ends in `.jinja`
(`orders.yml.jinja`) or its text holds Jinja syntax (`{%`, `{{`, `{#`), as Cube decides. The
template sees:

- `COMPILE_CONTEXT`: the compile context (`{"securityContext": {...}}` by default), Cube's name;
- `env_var(name, default)`: an environment variable, as in Cube;
- every function, variable and filter registered on a `cube.TemplateContext` by `globals.py` in
  the model directory (`@template.function`, `template.add_variable`, `@template.filter`).

Printed values follow Cube's JSON auto-escaping: `{{ name }}` prints `"orders"`, a number `1`,
a list `["a", "b"]` (valid YAML either way); a `SafeString` (what `cube_dbt`'s `as_cube()`
returns) or jinja2 `Markup` prints as is.

While `globals.py` runs (and the helpers it registers are called, during rendering), `import
cube` finds duckcube's implementation of Cube's Python API (`engine.model.cube_api`) and the
model directory is on `sys.path` for its sibling modules; both are undone afterwards, so no other
package named `cube` is shadowed outside a load.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import sys
import threading
import traceback
import types
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import jinja2

from engine.errors import ModelError
from .cube_api import TemplateContext, new_module_namespace

JINJA_SYNTAX = re.compile(r"\{%|\{\{|\{#")
GLOBALS_FILE = "globals.py"

_LOCK = threading.RLock()
_MISSING = object()


def is_jinja(path: Path, text: str) -> bool:
    """Whether Cube would render this YAML model file as a Jinja template."""
    return path.suffix == ".jinja" or JINJA_SYNTAX.search(text) is not None


@contextmanager
def cube_module(search_path: Path | None) -> Iterator[types.ModuleType]:
    """`cube` importable (duckcube's API) and `search_path` on sys.path, for this block only.

    Modules imported from `search_path` meanwhile are dropped afterwards, so the next load
    runs them afresh; a `cube` module that was there before comes back."""
    with _LOCK:
        saved = sys.modules.get("cube", _MISSING)
        module = types.ModuleType("cube", "duckcube's implementation of Cube's Python API")
        module.__dict__.update(new_module_namespace())
        sys.modules["cube"] = module
        before = set(sys.modules)
        entry = str(Path(search_path).resolve()) if search_path is not None else None
        if entry is not None:
            sys.path.insert(0, entry)
        try:
            yield module
        finally:
            if entry is not None:
                try:
                    sys.path.remove(entry)
                except ValueError:
                    pass
                for name in set(sys.modules) - before:
                    origin = getattr(sys.modules[name], "__file__", None) or ""
                    if origin.startswith(entry + os.sep):
                        del sys.modules[name]
            if saved is _MISSING:
                sys.modules.pop("cube", None)
            else:
                sys.modules["cube"] = saved  # type: ignore[assignment]


def run_python_file(path: Path, shown: str) -> dict[str, Any]:
    """Run a model's Python file (inside `cube_module`); its globals, or ModelError with the
    file and line where it failed."""
    try:
        return runpy.run_path(str(path), run_name=f"duckcube_model_{path.stem}")
    except Exception as exc:
        raise ModelError(f"{type(exc).__name__}: {exc}", shown, _line_in(exc, str(path))) from None


def _line_in(exc: BaseException, filename: str) -> int | None:
    if isinstance(exc, SyntaxError) and exc.filename == filename:
        return exc.lineno
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    return line


def template_contexts(namespace: dict[str, Any]) -> list[TemplateContext]:
    return [v for v in namespace.values() if isinstance(v, TemplateContext)]


def _printed(value: Any) -> Any:
    """Cube's JSON auto-escape: safe strings as they are, undefined as nothing, else JSON."""
    if isinstance(value, jinja2.Undefined):
        return ""
    if getattr(value, "is_safe", False):
        return str(value)
    if hasattr(value, "__html__"):  # markupsafe.Markup
        return value.__html__()
    try:
        return json.dumps(value, ensure_ascii=False)
    except TypeError:
        return json.dumps(str(value), ensure_ascii=False)


def _env_var(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise jinja2.exceptions.TemplateRuntimeError(f"unknown env variable {name}")
    return value


class JinjaModels:
    """Renders Jinja model files with one load's helpers and compile context."""

    def __init__(self, contexts: list[TemplateContext], compile_context: dict | None = None):
        self.environment = jinja2.Environment(autoescape=False, finalize=_printed,
                                              undefined=jinja2.Undefined)
        self.environment.globals.update({
            "COMPILE_CONTEXT": compile_context if compile_context is not None
            else {"securityContext": {}},
            "env_var": _env_var,
        })
        for context in contexts:
            self.environment.globals.update(context.variables)
            self.environment.globals.update(context.functions)
            self.environment.filters.update(context.filters)

    def render(self, text: str, shown: str) -> str:
        try:
            return self.environment.from_string(text).render()
        except jinja2.TemplateSyntaxError as exc:
            raise ModelError(f"Jinja: {exc.message}", shown, exc.lineno) from None
        except Exception as exc:
            raise ModelError(f"Jinja: {type(exc).__name__}: {exc}", shown,
                             _line_in(exc, "<template>")) from None
