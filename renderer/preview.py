"""Stills and single videos for designers: one frame of one customer in well under a second.

The same functions serve ``tailorcast preview`` and the studio.
"""

from __future__ import annotations

from typing import Any, Mapping

from PIL import Image

from tailorcast.errors import RenderError
from tailorcast.spec.model import Template

from .encode import profile_key
from .profiles import encoder_profile
from .scenes import played_scenes, resolve_scene


def preview_still(template: Template, ctx: Mapping[str, Any], scene_id: str | None = None, at: float | None = None,
                  rendition: str | None = None) -> tuple[Image.Image, str, float]:
    """(frame, scene id, time in the scene). Without a scene, ``at`` is a time in the whole video."""
    try:
        template.video.rendition(rendition)
        scene = template.scene(scene_id) if scene_id is not None else None
    except KeyError as exc:
        raise RenderError("preview", str(exc).strip("'\"")) from None
    scenes = [template.scene(sid) for sid in played_scenes(template, ctx, rendition)]
    if not scenes:
        raise RenderError("preview", "no scene plays for this customer (every when: is false)")
    if scene is not None:
        if scene not in scenes:
            raise RenderError("preview", f"scene '{scene_id}' does not play for this customer (its when: is false); pick another --row or --scene")
        local = scene.duration / 2 if at is None else at
    else:
        t = 0.0 if at is None else at
        scene = scenes[-1]
        local = scene.duration
        for s in scenes:
            if t < s.duration:
                scene, local = s, t
                break
            t -= s.duration
    rs = resolve_scene(template, scene, ctx, profile_key(encoder_profile(template.video), template.video.fps), rendition)
    frame = min(max(round(local * rs.fps), 0), rs.frames - 1)
    return rs.frame(frame), scene.id, frame / rs.fps
