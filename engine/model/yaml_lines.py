"""YAML loading that remembers where each mapping starts, so model errors can name a file and line.

>>> doc = load_yaml("cubes:\\n  - name: A\\n    sql_table: a\\n")
>>> doc["cubes"][0].line
2
"""

from __future__ import annotations

from typing import Any

import yaml


class LineDict(dict):
    """A YAML mapping that knows the 1-based line it starts on, and the line of each key."""

    line: int = 0
    key_lines: dict


class _LineLoader(yaml.SafeLoader):
    pass


# libyaml's parser when PyYAML has it: the pure-Python scanner was half of loading a 200-cube
# model (2.5 of 5 s). The constructor (and so the line numbers) is the same Python code.
_FastLineLoader: type | None = None
if getattr(yaml, "__with_libyaml__", False):
    class _FastLineLoader(yaml.CSafeLoader):  # type: ignore[no-redef]
        pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    mapping = LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            mapping.key_lines[key_node.value] = key_node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
if _FastLineLoader is not None:
    _FastLineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                    _construct_mapping)


def load_yaml(text: str) -> Any:
    """Parse YAML text; mappings come back as `LineDict` carrying their line numbers.

    Invalid YAML is reported by the pure-Python parser, whose messages the model errors quote."""
    if _FastLineLoader is not None:
        try:
            return yaml.load(text, Loader=_FastLineLoader)
        except yaml.YAMLError:
            pass
    return yaml.load(text, Loader=_LineLoader)


def line_of(document: Any, path: tuple) -> int | None:
    """The line of the deepest key or mapping along `path` (keys and list indexes)."""
    line = getattr(document, "line", None)
    node = document
    for step in path:
        key_lines = getattr(node, "key_lines", {})
        if step in key_lines:
            line = key_lines[step]
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
        line = getattr(node, "line", line)
    return line
