"""Video that many customers of a run share: shared scenes per locale and variant, live mode's base videos.

One public function per stage. Where they run (a Ray task, this process) and
what gets published is the billing run's business (workers/run.py).

    template + (locale, strings locale, variant) ── render_shared_scenes ──► {scene key: mp4 bytes}
    template + customer + variant ── played_by_rendition ──► ((rendition, scene ids), …)
    … + played scenes + shared bytes ── render_base_videos ──► {rendition: (content key, mp4, poster)}
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, Mapping

from tailorcast.context import locale_context
from tailorcast.customers import Customer
from tailorcast.errors import ExpressionError
from tailorcast.spec.model import Template

from . import live
from .cache import SegmentCache
from .encode import profile_key
from .profiles import encoder_profile
from .scenes import ResolvedScene, played_scenes, resolve_scene
from .video import segment

Played = tuple[tuple[str, tuple[str, ...]], ...]  # (rendition, ids of the scenes played), per rendition


def shared_scenes(template: Template, locale: str, strings_locale: str, variant: str | None) -> Iterator[tuple[str, str, ResolvedScene]]:
    """The shared scenes of one locale and variant that play, resolved, rendition by rendition: (rendition, scene id, scene)."""
    ctx = locale_context(template, locale, strings_locale, variant)
    pk = profile_key(encoder_profile(template.video), template.video.fps)
    for rendition in template.video.renditions:
        for scene in template.scenes:
            rs = resolve_scene(template, scene, ctx, pk, rendition.name) if scene.shared else None
            if rs is not None:
                yield rendition.name, scene.id, rs


def render_shared_scenes(template: Template, locale: str, strings_locale: str, variant: str | None, cache_root: str,
                         progress: Callable[[int, int], None] | None = None) -> dict[str, bytes]:
    """Every shared scene of one locale and variant, in every rendition, encoded once: {scene key: mp4 bytes}.
    ``progress(done, total)``: told before the first and after each scene (a rendition's scene counts one)."""
    cache = SegmentCache(cache_root)
    scenes = [rs for _, _, rs in shared_scenes(template, locale, strings_locale, variant)]
    out = {}
    for done, rs in enumerate(scenes):
        if progress:
            progress(done, len(scenes))
        path, _ = segment(rs, template, cache, threads=1)  # one x264 thread: a few % less CPU; Ray runs tasks side by side
        out[rs.key] = path.read_bytes()
    if progress:
        progress(len(scenes), len(scenes))
    return out


def seed_segments(cache: SegmentCache, shared: Mapping[str, bytes]) -> None:
    """Put shared segments made elsewhere (another node) into this node's cache, so nothing re-encodes them."""
    for key, data in shared.items():
        if cache.get("segments", key, "mp4") is None:
            cache.put_bytes("segments", key, "mp4", data)


def played_by_rendition(template: Template, customer: Customer, variant: str | None) -> Played | None:
    """The scenes the customer's video plays, per rendition; None when a ``when:`` fails (the job reports it)."""
    ctx = {**locale_context(template, customer.locale, customer.strings_locale, variant), **customer.values}
    try:
        return tuple((r.name, played_scenes(template, ctx, r.name)) for r in template.video.renditions)
    except ExpressionError:
        return None


def render_base_videos(template: Template, locale: str, strings_locale: str, variant: str | None, played: Played,
                       shared: Mapping[str, bytes], cache_root: str) -> dict[str, tuple[str, Path, Path]]:
    """Live mode: the base video of one locale, variant and set of played scenes, per rendition:
    {rendition: (content key, mp4 in the cache, its first-frame poster in the cache)}."""
    cache = SegmentCache(cache_root)
    seed_segments(cache, shared)
    ctx = locale_context(template, locale, strings_locale, variant)
    out = {}
    for rendition, scene_ids in played:
        key, path = live.render_base(template, ctx, scene_ids, rendition, cache)
        out[rendition] = (key, path, live.base_poster(cache, key))
    return out
