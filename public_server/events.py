"""``POST /api/events``: what a page reports (views, play quartiles, chapters, clicks), keyed by token only."""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Response

from .state import public_state
from .validation import ApiError, only, read_json, show, token

log = logging.getLogger("tailorcast.public")
bp = Blueprint("events", __name__)

EVENT_TYPES = ("view", "play_25", "play_50", "play_75", "play_100", "chapter", "cta_click", "pay_started")
_CHAPTER = re.compile(r"[a-z][a-z0-9-]{0,40}")  # a scene id (template schema)


@bp.post("/api/events")
def event():
    body = read_json(("application/json", "text/plain"))
    only(body, ("token", "type", "chapter"))
    page = token(body.get("token"), "'token'")
    kind = body.get("type")
    if kind not in EVENT_TYPES:
        raise ApiError(400, f"'type' {show(kind)} is not an event; use one of {', '.join(EVENT_TYPES)}")
    chapter = body.get("chapter")
    if kind == "chapter":
        if not isinstance(chapter, str) or not _CHAPTER.fullmatch(chapter):
            raise ApiError(400, "a 'chapter' event needs 'chapter': the scene id, like \"pay\" (a-z, 0-9, '-')")
    elif chapter is not None:
        raise ApiError(400, f"'chapter' goes only with type 'chapter', not {kind!r}")
    state = public_state()
    state.issued(page, "'token'")
    state.limit("events", page, state.config.events_per_minute)
    state.store.add_event(page, kind, chapter, state.now())
    log.debug("event %s for %s", kind, page)
    return Response(status=204)
