"""Reading a request's input strictly: one JSON object or one value per form field, known fields only, tokens checked.

Every refusal is an :class:`ApiError` whose message says what to fix; the app turns it into a JSON (or demo-page) answer.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Mapping

from flask import request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from tailorcast.payments.links import is_token


MAX_JSON_DEPTH = 8  # the deepest body the API takes is 3 (a webhook's data); this leaves room, not a stack overflow


class ApiError(Exception):
    """A refused request: its status, a message saying what to fix, and extra headers."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, message, dict(headers or {}))
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


def read_body(limit: int) -> bytes:
    """The whole body, read once before any view (forms then parse this copy). A body sent without Content-Length
    (chunked) is cut by Werkzeug at ``limit`` bytes without a word: one more read tells a cut body from a whole one."""
    data = request.get_data(cache=True)
    if request.content_length is None and len(data) >= limit and request.stream.read(1):
        raise RequestEntityTooLarge()
    return data


def parse_json(raw: bytes, what: str = "the body") -> Any:
    """``raw`` as JSON, at most :data:`MAX_JSON_DEPTH` arrays and objects deep; ApiError 400 saying what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, f"{what} is not UTF-8 text") from None
    if _depth(text) > MAX_JSON_DEPTH:
        raise ApiError(400, f"{what} nests arrays and objects more than {MAX_JSON_DEPTH} deep; send a flat JSON object")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"{what} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def _depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings (an upper bound for invalid JSON, which is refused anyway)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def read_json(accepted: tuple[str, ...]) -> dict[str, Any]:
    """The body as a JSON object; ``text/plain`` is accepted so pages can use ``navigator.sendBeacon``."""
    if request.mimetype not in accepted:
        raise ApiError(415, f"send the body as {' or '.join(accepted)}, not {request.mimetype or 'no Content-Type'}")
    body = parse_json(request.get_data(cache=True))
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object, like {\"token\": \"…\", \"type\": \"view\"}")
    return body


def single_values(values: MultiDict, what: str) -> dict[str, str]:
    """Form or query fields, each given once."""
    out: dict[str, str] = {}
    for key, items in values.lists():
        if len(items) != 1:
            raise ApiError(400, f"{what} field {key!r} appears {len(items)} times; send it once")
        out[key] = items[0]
    return out


def only(fields: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """Refuse unknown fields, so no personal data can be smuggled in."""
    extra = sorted(set(fields) - set(allowed))
    if extra:
        raise ApiError(400, f"unknown field(s) {', '.join(map(repr, extra))}; allowed: {', '.join(allowed)}")


def token(value: Any, where: str) -> str:
    if not is_token(value):
        raise ApiError(400, f"{where} is not a customer token (22-64 characters: letters, digits, '-' and '_')")
    return value


def show(value: Any) -> str:
    """A client value quoted in an error message, cut short: messages must not echo whole bodies."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"], default="text/html") == "application/json"


def iso(moment: dt.datetime) -> str:
    """UTC, to the second, with a Z."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
