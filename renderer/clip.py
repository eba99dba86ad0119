"""Background video clips: loop, scale to cover the frame, centre-crop (same rule as the ffmpeg graph)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
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


class _Cursor:
    """An open clip decoded forward: the next frame asked for after frame i costs the frames in between, not i + 1."""

    def __init__(self, path: str) -> None:
        self.container = av.open(path)
        self.frames = self.container.decode(video=0)
        self.index, self.frame = -1, None

    def seek(self, n: int):
        while self.index < n:
            self.frame, self.index = next(self.frames), self.index + 1
        return self.frame


_CURSORS: OrderedDict[tuple, tuple[threading.Lock, list]] = OrderedDict()
_CURSORS_LOCK = threading.Lock()
MAX_CURSORS = 4


def clip_frame(path: str, n: int, width: int, height: int) -> Image.Image:
    """Frame ``n`` of the looping clip, covering ``width`` x ``height`` (for posters and previews).

    A preview scrubbing through a scene asks for frames in order: each clip keeps one decoder that goes
    forward (frames are decoded in order, so the pixels are those of a decode from the start)."""
    n %= max(clip_length(path), 1)
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)
    with _CURSORS_LOCK:
        if key not in _CURSORS:
            _CURSORS[key] = (threading.Lock(), [None])
            while len(_CURSORS) > MAX_CURSORS:
                _lock, (old,) = _CURSORS.popitem(last=False)
                if old is not None:
                    old.container.close()
        _CURSORS.move_to_end(key)
        lock, slot = _CURSORS[key]
    with lock:
        cursor = slot[0]
        if cursor is None or n < cursor.index:
            if cursor is not None:
                cursor.container.close()
            cursor = slot[0] = _Cursor(path)
        try:
            frame = cursor.seek(n)
        except StopIteration:
            raise ValueError(f"{path}: frame {n} not found") from None
        return cover(frame.to_image(), width, height)
