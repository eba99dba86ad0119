"""What the page's player reads: chapters, the pay call-to-action, labels, the API, live stills.

It is embedded in the page as ``<script type="application/json" id="tc-timeline">``:
data, not code, so the CSP keeps ``script-src 'self'``. ``static/player.js``
enhances the plain ``<video>`` with it; without JavaScript the page ignores it.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from markupsafe import Markup

from tailorcast import expressions
from tailorcast.spec.model import Layer, Scene, Template

# Strings the player shows, with the English text used when a template's strings lack the key.
LABELS = {
    "captions": ("player_captions", "Captions"),
    "replay": ("player_replay", "Replay"),
    "sound": ("player_sound", "Tap for sound"),
    "paid": ("player_paid", "Thank you, this bill is paid."),
}


def pay_scene(template: Template, scene_ids: list[str]) -> Scene | None:
    """The scene where the video asks for payment: the one with id ``pay``, else the last one with a button."""
    played = [template.scene(i) for i in scene_ids]
    for s in played:
        if s.id == "pay":
            return s
    return next((s for s in reversed(played) if any(layer.type == "button" for layer in s.layers)), None)


def _button(scene: Scene, ctx: Mapping[str, Any]) -> Layer | None:
    for layer in scene.layers:
        if layer.type == "button" and (not layer.when or expressions.evaluate_condition(layer.when, ctx)):
            return layer
    return None


def player_data(template: Template, ctx: Mapping[str, Any], scenes: Iterable[tuple[str, float, float, str]], *,
                live: Mapping[str, Any] | None = None, api: str = "", token: str = "") -> dict:
    """``scenes``: (id, start, end, title) of every scene the customer's video plays, in order."""
    v = template.video
    scenes = list(scenes)
    t = ctx["t"]
    rtl = ctx.get("dir") == "rtl"
    data: dict[str, Any] = {
        "fps": v.fps,
        "duration": scenes[-1][2] if scenes else 0,
        "scenes": [{"id": sid, "start": start, "end": end, "title": title} for sid, start, end, title in scenes],
        "labels": {name: (t(key) if key in t.table else default) for name, (key, default) in LABELS.items()},
        "renditions": [{"name": r.name, "w": r.width, "h": r.height} for r in v.renditions],
        "pay": None,
        "live": dict(live) if live else None,
        "api": api or None,
        "token": token or None,
    }
    pay = pay_scene(template, [s[0] for s in scenes])
    if pay is not None:
        start, end = next((s[1], s[2]) for s in scenes if s[0] == pay.id)
        rctx = {**ctx, "rendition": v.default_rendition}
        button = _button(pay, rctx)
        at = start + button.start + button.enter.duration if button else start
        data["pay"] = {"scene": pay.id, "start": round(min(at, end), 3), "end": end,
                       "label": expressions.evaluate_text(button.params["text"], rctx).strip() if button else None}
        for r in data["renditions"]:
            if button:
                left, top, right, bottom = button.box_for(r["name"], rtl).fractions()
                r["cta"] = [round(left, 4), round(top, 4), round(right - left, 4), round(bottom - top, 4)]
    return data


def player_script(data: Mapping[str, Any]) -> Markup:
    """The data as an inert JSON script element; ``<``, ``>`` and ``&`` escaped so no text can close it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(f'<script type="application/json" id="tc-timeline">{text}</script>')
