"""Encoder profiles: the H.264 settings every segment of a template shares (they join by stream copy).

A template names a profile (``video.profile: small``) and may override its
settings (``{name: small, crf: 24}``); the schema's list of names must equal
:data:`PROFILES` (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tailorcast.spec.model import VideoSpec


@dataclass(frozen=True)
class EncoderProfile:
    preset: str = "veryfast"
    crf: int = 23
    profile: str = "high"
    audio_bitrate: str = "128k"
    name: str = "balanced"


# Named starting points: quality vs size vs speed (measured in bench/README.md).
PROFILES = {
    "balanced": EncoderProfile(),
    "small": EncoderProfile(preset="medium", crf=26, audio_bitrate="96k", name="small"),
    "fast": EncoderProfile(preset="superfast", crf=23, name="fast"),
}


def encoder_profile(video: VideoSpec) -> EncoderProfile:
    """The template's named profile with its overrides applied."""
    return replace(PROFILES[video.profile], **video.profile_settings)
