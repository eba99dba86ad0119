"""Stills for the scrubber: one frame of one customer at any time of the timeline, the pixels the renderer bakes.

A still is ``ResolvedScene.frame`` (renderer/scenes.py), the same compositing a run
encodes. Resolving a scene draws its layer stills (the slow part); the resolved
scene is kept for its (version, row, locale, variant, rendition), so scrubbing
costs one composite and one PNG encode. The kept scenes are bounded by count and by
the bytes of their pixels (about 4 MiB each at 1280x720): per studio process.
"""

from __future__ import annotations

import dataclasses
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from renderer.encode import profile_key
from renderer.profiles import encoder_profile
from renderer.scenes import ResolvedScene, resolve_scene
from store.versions import VersionRow
from tailorcast import expressions
from tailorcast.context import customer_context, locale_context
from tailorcast.customers import Customer, find_row
from tailorcast.errors import ExpressionError, RenderError
from tailorcast.spec.model import Template

from .workspace import Workspace

CACHE_SCENES = 64
CACHE_SCENE_BYTES = 256 * 1024 * 1024  # the pixels of the kept scenes, at most (a 4K rendition's scene is ~40 MiB)
CACHE_CONTEXTS = 64


def scene_bytes(rs: ResolvedScene) -> int:
    """The pixels a resolved scene holds: its background (or plate) and its sprites' stills."""
    images = [rs.background] + [s.image for s in rs.sprites]
    return sum(im.width * im.height * len(im.getbands()) for im in images)


@dataclass(frozen=True)
class Choice:
    """What the designer picked: a row of a customers file, a rendition, and optional locale and variant overrides."""

    customers: Path
    row: int
    rendition: str | None = None
    locale: str | None = None
    variant: str | None = None


@dataclass(frozen=True)
class SceneUse:
    """One scene for this row: does it play, and why (its ``when:`` and what it gave)."""

    id: str
    title: str
    duration: float
    shared: bool
    when: str | None
    plays: bool
    reason: str
    start: float | None  # seconds into the video; None when it does not play


@dataclass(frozen=True)
class Timeline:
    scenes: tuple[SceneUse, ...]
    fps: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.fps


def override(template: Template, customer: Customer, locale: str | None) -> Customer:
    """The customer as if its row said ``locale``."""
    if not locale:
        return customer
    if locale not in template.locales:
        raise RenderError("preview", f"locale {locale!r} is not one of this template's ({', '.join(template.locales)})")
    return dataclasses.replace(customer, locale=locale, strings_locale=template.strings_locale(locale) or template.locales[0],
                               values={**customer.values, "locale": locale})


def context(template: Template, choice: Choice) -> dict[str, Any]:
    """What this row's expressions see, with the locale and variant the designer chose."""
    customer = override(template, find_row(template, choice.customers, choice.row), choice.locale)
    try:
        ctx = customer_context(template, customer)
    except ExpressionError as exc:
        raise RenderError("preview", f"row {choice.row}: {exc}") from None
    if choice.variant:
        names = [v.name for v in template.variants]
        if choice.variant not in names:
            raise RenderError("preview", f"variant {choice.variant!r} is not one of this template's ({', '.join(names) or 'none'})")
        ctx.update(locale_context(template, customer.locale, customer.strings_locale, choice.variant))
    return ctx


def timeline(template: Template, ctx: Mapping[str, Any], rendition: str | None) -> Timeline:
    """Every scene with whether it plays for this row and why, and where it starts in the video."""
    fps = template.video.fps
    ctx = {**ctx, "rendition": template.video.rendition(rendition).name}
    out, frame = [], 0
    for s in template.scenes:
        if not s.when:
            plays, reason = True, "always (no when:)"
        else:
            try:
                plays = bool(expressions.evaluate_condition(s.when, ctx))
                reason = f"when: {s.when} → {'true' if plays else 'false'}"
            except ExpressionError as exc:
                plays, reason = False, f"when: {s.when} cannot be evaluated: {exc}"
        out.append(SceneUse(s.id, s.title or s.id, s.duration, s.shared, s.when, plays, reason, frame / fps if plays else None))
        if plays:
            frame += round(s.duration * fps)
    return Timeline(tuple(out), fps, frame)


class Previewer:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._lock = threading.Lock()
        self._scenes: OrderedDict[tuple, tuple[ResolvedScene, int]] = OrderedDict()  # key → (scene, its bytes)
        self._scene_bytes = 0
        self._contexts: OrderedDict[tuple, tuple] = OrderedDict()

    def context(self, version: VersionRow, template: Template, choice: Choice) -> tuple[dict[str, Any], Timeline]:
        """This row's context and timeline, kept per (version, file as it is now, choice): reading the file to the row
        and checking it costs more than a composite."""
        stat = choice.customers.stat()
        key = (version.digest, str(choice.customers), stat.st_mtime_ns, stat.st_size, choice)
        with self._lock:
            if key in self._contexts:
                self._contexts.move_to_end(key)
                return self._contexts[key]
        ctx = context(template, choice)
        found = (ctx, timeline(template, ctx, choice.rendition))
        with self._lock:
            self._contexts[key] = found
            while len(self._contexts) > CACHE_CONTEXTS:
                self._contexts.popitem(last=False)
        return found

    def still(self, version: VersionRow, choice: Choice, at: float) -> tuple[bytes, str, float]:
        """(PNG, scene id, time in the scene) of the frame at ``at`` seconds into this row's video."""
        template = self.workspace.template(version)
        ctx, line = self.context(version, template, choice)
        playing = [s for s in line.scenes if s.plays]
        if not playing:
            raise RenderError("preview", "no scene plays for this row (every when: is false)")
        frame = min(max(round(at * line.fps), 0), line.frames - 1)
        use = playing[-1]
        for s in playing:
            if frame < round(s.start * line.fps) + round(s.duration * line.fps):
                use = s
                break
        local = frame - round(use.start * line.fps)
        rs = self._resolved(version, template, choice, ctx, use.id)
        buf = io.BytesIO()
        rs.frame(min(local, rs.frames - 1)).save(buf, "PNG", compress_level=1)
        return buf.getvalue(), use.id, local / line.fps

    def _resolved(self, version: VersionRow, template: Template, choice: Choice, ctx: Mapping[str, Any], scene_id: str) -> ResolvedScene:
        key = (version.digest, str(choice.customers), choice.row, choice.rendition, choice.locale, choice.variant, scene_id)
        with self._lock:
            if key in self._scenes:
                self._scenes.move_to_end(key)
                return self._scenes[key][0]
        rs = resolve_scene(template, template.scene(scene_id), ctx, profile_key(encoder_profile(template.video), template.video.fps),
                           choice.rendition)
        size = scene_bytes(rs)
        with self._lock:
            if key not in self._scenes:  # another thread may have resolved it meanwhile
                self._scenes[key] = (rs, size)
                self._scene_bytes += size
            while len(self._scenes) > 1 and (len(self._scenes) > CACHE_SCENES or self._scene_bytes > CACHE_SCENE_BYTES):
                _old, (_rs, old_size) = self._scenes.popitem(last=False)
                self._scene_bytes -= old_size
        return rs

    def cached(self) -> tuple[int, int]:
        """(scenes kept, bytes of their pixels): for the docs' and the tests' sake."""
        with self._lock:
            return len(self._scenes), self._scene_bytes
