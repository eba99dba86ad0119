"""The audio track: the music bed (looped, faded) with the scenes' sound effects, or silence; AAC.

Encoded once per distinct track and cached (``renderer.video.audio_bed``), then
muxed into every video without re-encoding (``renderer.encode.join``).
"""

from __future__ import annotations

from pathlib import Path

import ffmpeg
import numpy as np

from tailorcast.spec.model import Music

from .encode import ffmpeg_exe


def encode_music(music: Music | None, duration: float, out: Path, bitrate: str, sounds: tuple = ()) -> None:
    """The music bed (looped, faded) with the scenes' sound effects mixed in at their times.

    ``sounds``: (path, start seconds, volume) for each effect of the scenes that play.
    """
    from moviepy import AudioClip, AudioFileClip, CompositeAudioClip, afx

    opened = []
    try:
        if music is not None:
            clip = AudioFileClip(str(music.path))
            opened.append(clip)
            if clip.duration < duration:
                clip = clip.with_effects([afx.AudioLoop(duration=duration)])
            effects = [afx.MultiplyVolume(music.volume)]
            if music.fade_in:
                effects.append(afx.AudioFadeIn(music.fade_in))
            if music.fade_out:
                effects.append(afx.AudioFadeOut(music.fade_out))
            bed = clip.subclipped(0, duration).with_effects(effects)
        else:
            bed = AudioClip(lambda t: np.zeros((np.size(t), 2)) if np.ndim(t) else np.zeros(2), duration=duration, fps=48000)
        parts = [bed]
        for path, start, volume in sounds:
            fx = AudioFileClip(str(path))
            opened.append(fx)
            length = min(fx.duration, max(duration - start, 0))
            if length > 0:
                parts.append(fx.subclipped(0, length).with_effects([afx.MultiplyVolume(volume)]).with_start(start))
        mix = CompositeAudioClip(parts).with_duration(duration) if len(parts) > 1 else bed
        mix.write_audiofile(str(out), fps=48000, codec="aac", bitrate=bitrate, logger=None, ffmpeg_params=["-f", "mp4", "-ac", "2"])
    finally:
        for clip in opened:
            clip.close()


def silence_command(duration: float, out: Path, bitrate: str) -> list[str]:
    return (
        ffmpeg.input("anullsrc=r=48000:cl=stereo", f="lavfi", t=f"{duration:.6f}")
        .output(str(out), **{"c:a": "aac", "b:a": bitrate, "f": "mp4"})
        .global_args("-nostdin", "-loglevel", "error")
        .overwrite_output()
        .compile(cmd=ffmpeg_exe())
    )
