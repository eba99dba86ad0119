"""What a video file really contains (PyAV: the imageio-ffmpeg wheel ships no ffprobe)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av


@dataclass(frozen=True)
class VideoInfo:
    video_codec: str
    profile: str
    pix_fmt: str
    width: int
    height: int
    fps: Fraction
    video_frames: int
    duration: float
    audio_codec: str | None
    audio_duration: float | None
    atoms: tuple[str, ...]  # top-level MP4 boxes in file order

    @property
    def faststart(self) -> bool:
        return "moov" in self.atoms and "mdat" in self.atoms and self.atoms.index("moov") < self.atoms.index("mdat")


def top_level_atoms(path: Path) -> tuple[str, ...]:
    out = []
    with open(path, "rb") as fh:
        while True:
            head = fh.read(8)
            if len(head) < 8:
                break
            size, kind = struct.unpack(">I4s", head)
            if size == 1:
                size = struct.unpack(">Q", fh.read(8))[0]
                fh.seek(size - 16, 1)
            elif size == 0:
                out.append(kind.decode("latin-1"))
                break
            else:
                fh.seek(size - 8, 1)
            out.append(kind.decode("latin-1"))
    return tuple(out)


def probe(path: Path | str) -> VideoInfo:
    path = Path(path)
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = v.frames or sum(1 for p in c.demux(v) if p.size)
        a = c.streams.audio[0] if c.streams.audio else None
        vdur = float(v.duration * v.time_base) if v.duration else float(c.duration or 0) / av.time_base
        adur = float(a.duration * a.time_base) if a is not None and a.duration else None
        return VideoInfo(
            video_codec=v.codec_context.name,
            profile=v.codec_context.profile or "",
            pix_fmt=v.codec_context.pix_fmt or "",
            width=v.codec_context.width,
            height=v.codec_context.height,
            fps=v.average_rate or v.guessed_rate,
            video_frames=frames,
            duration=vdur,
            audio_codec=a.codec_context.name if a is not None else None,
            audio_duration=adur,
            atoms=top_level_atoms(path),
        )
