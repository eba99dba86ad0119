"""Strict readers of what a person typed: one value per field, bounded, or a 400 that names the field and the fix."""

from __future__ import annotations

import re

import yaml
from flask import abort, request

from tailorcast import budget
from tailorcast.errors import StudioRefused
from tailorcast.expressions import EVAL_MEMORY

TEMPLATE_NAME = re.compile(r"[a-z][a-z0-9-]{1,40}")  # used with fullmatch: "$" would accept a trailing newline


def text(name: str, max_len: int = 200, required: bool = True, source=None) -> str:
    values = (source if source is not None else request.form).getlist(name)
    if len(values) > 1:
        abort(400, description=f"the field '{name}' was sent {len(values)} times; send it once")
    value = values[0] if values else ""
    if required and not value.strip():
        abort(400, description=f"the field '{name}' is empty; fill it in")
    if len(value) > max_len:
        abort(400, description=f"the field '{name}' has {len(value)} characters; at most {max_len}")
    return value


def number(name: str, default: int | None = None, low: int = 0, high: int = 10**9, source=None) -> int:
    raw = text(name, 12, required=default is None, source=source if source is not None else request.args)
    if not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, description=f"'{name}' must be a whole number, not {raw[:20]!r}")
    if not low <= value <= high:
        abort(400, description=f"'{name}' must be between {low} and {high}")
    return value


def seconds(name: str, source=None) -> float:
    raw = text(name, 12, required=False, source=source if source is not None else request.args) or "0"
    try:
        value = float(raw)
    except ValueError:
        abort(400, description=f"'{name}' must be a number of seconds, not {raw[:20]!r}")
    if not 0 <= value <= 3600:
        abort(400, description=f"'{name}' must be between 0 and 3600 seconds")
    return value


def template_name(value: str) -> str:
    if not TEMPLATE_NAME.fullmatch(value):
        abort(400, description=f"template name {value[:50]!r}: use 2-41 lower-case letters, digits and '-', starting with a letter")
    return value


MAX_YAML_ALIASES = 200  # a template has little reason for aliases; thousands of them expand exponentially when checked
YAML_SCAN_SECONDS = 3.0  # CPU seconds to scan what one request sends; the samples take milliseconds, but PyYAML's time grows
# with the square of the nesting ("[" * 20000 took 20 s), and a zip holds up to 64 MB of YAML


def check_yaml(path: str, data: bytes) -> None:
    """Refuse a YAML file whose aliases could make checking it explode (a "billion laughs"), or that takes too long
    to scan (far too long or too nested); the scan is linear in the events, bounded in CPU time."""
    check_yaml_files({path: data})


def check_yaml_files(files: dict[str, bytes]) -> None:
    """:func:`check_yaml` for each file, all of them within one :data:`YAML_SCAN_SECONDS` budget."""
    scanning = ""

    def scan() -> None:
        nonlocal scanning
        for path, data in files.items():
            if path.endswith((".yaml", ".yml")):
                scanning = path
                _scan(path, data)

    try:
        budget.run(scan, YAML_SCAN_SECONDS, EVAL_MEMORY)
    except budget.OverBudget:
        raise StudioRefused(scanning, f"reading this YAML took more than {YAML_SCAN_SECONDS:g} s of CPU (the samples take "
                                      "milliseconds): it is far too long or nested far too deeply ([ ] or { } inside each "
                                      "other); shorten it") from None


def _scan(path: str, data: bytes) -> None:
    aliases = 0
    try:
        for event in yaml.parse(data.decode("utf-8", errors="replace")):
            if isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_YAML_ALIASES:
                    raise StudioRefused(path, f"more than {MAX_YAML_ALIASES} YAML aliases (*name); write the values out")
    except yaml.YAMLError:
        return  # not valid YAML: the template's check reports it with its line
