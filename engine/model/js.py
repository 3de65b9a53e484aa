"""JavaScript model files (`cube(...)`, `view(...)`) -> the same documents YAML files give.

Cube's JS models run in embedded V8 (mini-racer, from PyPI) with a small runtime
(`js_prelude.js`): `cube(name, {...})` and `view(name, {...})` record definitions; a name a file
does not define itself (`CUBE`, another cube, a member) is a reference that prints as `{CUBE}`
or `{Other.member}` inside template literals, so `` sql: `${CUBE}.amount` `` becomes the YAML
form `{CUBE}.amount`. Member functions (`sql: () => ...`, `sql: (CUBE, Users) => ...`) are
called with references for their parameters. Plain JS runs as it is: loops building members,
helper functions, `require('./sibling')` of files in the model directory (JS or JSON),
`import`/`export` of them, `asyncModule(async () => ...)` (awaited; there is no network), and
`extends: OtherCube` (a reference) across files.

Definitions come back as data: camelCase keys snake_cased (not inside `meta`), members keyed by
name turned into lists with `name`, references into names or `{...}` SQL. The YAML validator
checks them, so errors read the same; each cube and member carries the line it starts on. A JS
error names the file and line V8 reports.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from engine.errors import ModelError
from .yaml_lines import LineDict

_PRELUDE = (Path(__file__).with_name("js_prelude.js")).read_text()
_LOCK = threading.Lock()
ASYNC_TIMEOUT_SECONDS = 30

# Definition keys whose value is an object of named items in JS and a list in YAML.
_NAMED_LISTS = {"measures", "dimensions", "segments", "joins", "hierarchies",
                "pre_aggregations", "granularities", "indexes"}
# Keys whose value is free-form (kept as written).
_VERBATIM = {"meta"}
# Keys whose references are SQL (`{Other.member}`) rather than member names.
_SQL_KEYS = {"sql", "sql_table"}


def _snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


_IMPORT_DEFAULT = re.compile(r"^(\s*)import\s+([A-Za-z_$][\w$]*)\s+from\s+(['\"][^'\"]+['\"]);?",
                             re.M)
_IMPORT_NAMED = re.compile(r"^(\s*)import\s+(\{[^}]*\})\s+from\s+(['\"][^'\"]+['\"]);?", re.M)
_IMPORT_ALL = re.compile(
    r"^(\s*)import\s+\*\s+as\s+([A-Za-z_$][\w$]*)\s+from\s+(['\"][^'\"]+['\"]);?", re.M)
_EXPORT_DEFAULT = re.compile(r"^(\s*)export\s+default\s+", re.M)
_EXPORT_DECL = re.compile(r"^(\s*)export\s+(const|let|var|function|async function|class)\s+"
                          r"([A-Za-z_$][\w$]*)", re.M)


def _commonjs(source: str) -> str:
    """ES `import` / `export` of sibling files as `require` / `exports` (line numbers kept)."""
    exported: list[str] = []
    source = _IMPORT_ALL.sub(r"\1const \2 = require(\3);", source)
    source = _IMPORT_DEFAULT.sub(r"\1const \2 = (function (m) { return m && m.__esModule_default "
                                 r"!== undefined ? m.__esModule_default : m; })(require(\3));",
                                 source)
    source = _IMPORT_NAMED.sub(lambda m: m.group(1) + "const " + m.group(2).replace(" as ", ": ")
                               + " = require(" + m.group(3) + ");", source)

    def declaration(match: re.Match) -> str:
        exported.append(match.group(3))
        return f"{match.group(1)}{match.group(2)} {match.group(3)}"
    source = _EXPORT_DECL.sub(declaration, source)
    source = _EXPORT_DEFAULT.sub(r"\1exports.__esModule_default = ", source)
    if exported:
        source += "\n" + " ".join(f"exports.{name} = {name};" for name in exported)
    return source


def load_js_models(root: Path, scripts: list[Path],
                   compile_context: dict | None = None) -> list[tuple[Any, str]]:
    """Run the JS model files (with every .js / .json file below `root` requirable) and return
    one `({"cubes": [...], "views": [...]}, file)` document per file that defines any."""
    from py_mini_racer import MiniRacer

    files: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix in (".js", ".json") and path.is_file() and \
                "node_modules" not in path.relative_to(root).parts:
            text = path.read_text()
            files[path.relative_to(root).as_posix()] = (_commonjs(text) if path.suffix == ".js"
                                                        else text)
    order = [path.relative_to(root).as_posix() for path in scripts]
    context = compile_context if compile_context is not None else {"securityContext": {}}
    with _LOCK:
        ctx = MiniRacer()
        try:
            ctx.eval(_PRELUDE + "\n//# sourceURL=duckcube-js-prelude.js")
            ctx.eval(f"__files = {json.dumps(files)}; "
                     f"globalThis.COMPILE_CONTEXT = {json.dumps(context, default=str)};")
            for name, text in files.items():
                if name.endswith(".js"):
                    # On the file's first line, so V8's line numbers are the file's.
                    _evaluate(ctx, f"__wrappers[{json.dumps(name)}] = (function (module, exports, "
                                   f"require, __filename) {{ with (__scope) {{ {text}\n}} }});"
                                   f"\n//# sourceURL={name}", name)
            for name in order:
                _evaluate(ctx, f"__run({json.dumps(name)}); undefined", name)
            pending = _evaluate(ctx, "Promise.all(__pending)", order[-1] if order else "")
            try:
                pending.get(timeout=ASYNC_TIMEOUT_SECONDS)
            except Exception as exc:
                raise _error(exc, order[-1] if order else "") from None
            definitions = json.loads(_evaluate(ctx, "__result()", ""))
        finally:
            ctx.close()
    documents: dict[str, dict] = {}
    for item in definitions:
        file = item["file"] or (order[-1] if order else "")
        source = files.get(file, "")
        raw = _definition(item["definition"], item["line"], source)
        raw["name"] = item["name"]
        raw.key_lines["name"] = item["line"]
        document = documents.setdefault(file, {"cubes": [], "views": []})
        document["cubes" if item["kind"] == "cube" else "views"].append(raw)
    rank = {name: index for index, name in enumerate(order)}
    ordered = sorted(documents.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))
    return [(document, file) for file, document in ordered]


def _evaluate(ctx: Any, code: str, file: str) -> Any:
    try:
        return ctx.eval(code)
    except Exception as exc:
        raise _error(exc, file) from None


_LOCATION = re.compile(r"^([^\s:]+):(\d+): (.*)")


def _error(exc: Exception, file: str) -> ModelError:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    match = _LOCATION.match(first)
    if match and match.group(1) in ("<anonymous>", "undefined") and file:
        # A syntax error: V8 reads the sourceURL comment only once the script parses.
        return ModelError(match.group(3), file, int(match.group(2)))
    if match and not match.group(1).startswith("duckcube-js-prelude"):
        return ModelError(match.group(3), match.group(1), int(match.group(2)))
    message = match.group(3) if match else first
    # Raised by the runtime itself (e.g. a bad cube() call): the model line is in the stack.
    for line in text.splitlines():
        at = re.search(r"\(?([^\s():]+\.js):(\d+):\d+\)?\s*$", line)
        if at and not at.group(1).startswith("duckcube-js-prelude"):
            return ModelError(message, at.group(1), int(at.group(2)))
    return ModelError(message, file or None)


def _definition(value: dict, line: int | None, source: str) -> LineDict:
    """A JS definition object as the YAML mapping of the same cube or view."""
    out = LineDict()
    out.line = line or 0
    out.key_lines = {}
    for key, item in value.items():
        name = _snake(key)
        out[name] = _value(name, item, line, source)
        out.key_lines[name] = _line_of_key(source, key, line) or line
    return out


def _value(key: str, value: Any, line: int | None, source: str) -> Any:
    if key in _VERBATIM:
        return _unref(value, sql=False)
    if key in _NAMED_LISTS and isinstance(value, dict) and not _is_ref(value):
        items = []
        for name, item in value.items():
            member_line = _line_of_key(source, name, line) or line
            converted = _definition(item, member_line, source) if isinstance(item, dict) \
                else item
            if isinstance(converted, LineDict):
                converted = _with_name(converted, name, member_line)
            items.append(converted)
        return items
    if _is_ref(value):
        return _ref_text(value, sql=key in _SQL_KEYS)
    if isinstance(value, dict):
        return _definition(value, line, source)
    if isinstance(value, list):
        return [_value(key, item, line, source) for item in value]
    return value


def _with_name(item: LineDict, name: str, line: int | None) -> LineDict:
    out = LineDict({"name": name, **item})
    out.line = item.line
    out.key_lines = {"name": line, **item.key_lines}
    return out


def _is_ref(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"__ref"}


def _ref_text(value: dict, sql: bool) -> str:
    path = ".".join(value["__ref"])
    return "{" + path + "}" if sql else path


def _unref(value: Any, sql: bool) -> Any:
    if _is_ref(value):
        return _ref_text(value, sql)
    if isinstance(value, dict):
        return {k: _unref(v, sql) for k, v in value.items()}
    if isinstance(value, list):
        return [_unref(v, sql) for v in value]
    return value


def _line_of_key(source: str, key: str, after: int | None) -> int | None:
    """The first line at or after `after` where `key:` is written (a best guess for errors)."""
    lines = source.splitlines()
    start = max((after or 1) - 1, 0)
    pattern = re.compile(r"(^|[\s{,])['\"]?" + re.escape(key) + r"['\"]?\s*:")
    for number in range(start, len(lines)):
        if pattern.search(lines[number]):
            return number + 1
    return None
