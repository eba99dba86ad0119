"""YAML loading that remembers the line of every value, for error messages, and that refuses aliases.

A few lines of anchors and aliases (``&a [*b, *b, …]``) expand to billions of values (an alias bomb): template
files never need them, so an alias is a YAML error (with its line), as is nesting deeper than Python can walk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class Located:
    """Parsed YAML plus ``line(path)`` → 1-based line of the value at that path."""

    def __init__(self, data: Any, lines: dict[tuple, int], filename: str) -> None:
        self.data = data
        self.lines = lines
        self.filename = filename

    def line(self, path: tuple | list) -> int | None:
        path = tuple(path)
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)

    def where(self, path: tuple | list) -> str:
        line = self.line(path)
        dotted = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path))
        loc = f"{self.filename}:{line}" if line else self.filename
        return f"{loc} {dotted}".rstrip()


def _convert(node: yaml.Node, path: tuple, lines: dict) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node)) if not isinstance(key_node, yaml.ScalarNode) else key_node.value
            out[key] = _convert(value_node, path + (key,), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(v, path + (i,), lines) for i, v in enumerate(node.value)]
    return yaml.SafeLoader(yaml.serialize(node)).get_single_data() if node.tag != "tag:yaml.org,2002:str" else node.value


class _NoAliases(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, f"alias *{event.anchor} is not allowed in template files; "
                                              "write the value out", event.start_mark)
        return super().compose_node(parent, index)


def _too_deep() -> yaml.YAMLError:
    return yaml.YAMLError("values nested too deeply; template files need a few levels, not hundreds")


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` without aliases (strings files and every other template file)."""
    try:
        return yaml.load(text, Loader=_NoAliases)  # noqa: S506 (a SafeLoader)
    except RecursionError:
        raise _too_deep() from None


def load_located(path: Path, display: str | None = None) -> Located:
    text = Path(path).read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=_NoAliases)
        lines: dict[tuple, int] = {}
        data = _convert(node, (), lines) if node is not None else None
    except RecursionError:
        raise _too_deep() from None
    return Located(data, lines, display or Path(path).name)
