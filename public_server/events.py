"""``POST /api/events``: what a page reports (views, plays, quartiles, scenes reached, chapters, clicks), keyed by token only."""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Response

from .state import public_state
from .validation import ApiError, only, read_json, show, token

log = logging.getLogger("tailorcast.public")
bp = Blueprint("events", __name__)

EVENT_TYPES = ("view", "play", "play_25", "play_50", "play_75", "play_100", "scene", "chapter", "cta_click", "pay_started")
SCENE_FIELD = {"scene": "scene", "chapter": "chapter"}  # kinds that name a scene id, and the body field that carries it
_CHAPTER = re.compile(r"[a-z][a-z0-9-]{0,40}")  # a scene id (template schema)


@bp.post("/api/events")
def event():
    body = read_json(("application/json", "text/plain"))
    only(body, ("token", "type", "chapter", "scene"))
    page = token(body.get("token"), "'token'")
    kind = body.get("type")
    if kind not in EVENT_TYPES:
        raise ApiError(400, f"'type' {show(kind)} is not an event; use one of {', '.join(EVENT_TYPES)}")
    field = SCENE_FIELD.get(kind)
    for name in SCENE_FIELD.values():
        if name != field and body.get(name) is not None:
            raise ApiError(400, f"'{name}' goes only with type '{name}', not {kind!r}")
    detail = body.get(field) if field else None
    if field and (not isinstance(detail, str) or not _CHAPTER.fullmatch(detail)):
        raise ApiError(400, f"a '{kind}' event needs '{field}': the scene id, like \"pay\" (a-z, 0-9, '-')")
    state = public_state()
    state.issued(page, "'token'")
    state.limit("events", page, state.config.events_per_minute)
    state.store.add_event(page, kind, detail, state.now())
    log.debug("event %s for %s", kind, page)
    return Response(status=204)
