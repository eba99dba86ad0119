"""Background video clips: loop, scale to cover the frame, centre-crop (same rule as the ffmpeg graph)."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache

import av
from PIL import Image


@lru_cache(maxsize=64)
def _digest(path: str, mtime: float, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:32]


def file_digest(path: str) -> str:
    st = os.stat(path)
    return _digest(path, st.st_mtime, st.st_size)


@lru_cache(maxsize=16)
def clip_length(path: str) -> int:
    with av.open(path) as c:
        s = c.streams.video[0]
        return s.frames or sum(1 for _ in c.decode(s))


@lru_cache(maxsize=16)
def clip_size(path: str) -> tuple[int, int]:
    with av.open(path) as c:
        s = c.streams.video[0]
        return s.width, s.height


def cover_box(src_w: int, src_h: int, width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, w, h): the centred part of the source with the frame's shape, in even source pixels.

    Cropped first and then scaled to the frame, the scaler computes only pixels that are kept
    (the ffmpeg graph and :func:`cover` use this same box, so they agree).
    """
    scale = max(width / src_w, height / src_h)
    w = min(src_w, max(2, round(width / scale / 2) * 2))
    h = min(src_h, max(2, round(height / scale / 2) * 2))
    return (src_w - w) // 4 * 2, (src_h - h) // 4 * 2, w, h


def cover(img: Image.Image, width: int, height: int) -> Image.Image:
    left, top, w, h = cover_box(img.width, img.height, width, height)
    return img.resize((width, height), Image.Resampling.BICUBIC, box=(left, top, left + w, top + h))


def clip_frame(path: str, n: int, width: int, height: int) -> Image.Image:
    """Frame ``n`` of the looping clip, covering ``width`` x ``height`` (for posters and previews)."""
    n %= max(clip_length(path), 1)
    with av.open(path) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i == n:
                return cover(frame.to_image(), width, height)
    raise ValueError(f"{path}: frame {n} not found")
