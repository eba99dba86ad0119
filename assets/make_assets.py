"""Regenerate the brand images and the music bed (deterministic; run from the repo root).

    python assets/make_assets.py

Everything it writes is original work of this repository, released under CC0.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = Path(__file__).resolve().parent
FONT = HERE / "fonts" / "DejaVuSans-Bold.ttf"


def logo() -> None:
    S = 4
    W, H = 720 * S, 200 * S
    img = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    cx, cy, r = 100 * S, 100 * S, 58 * S
    for i in range(12):  # sun rays
        a = np.pi * 2 * i / 12
        x0, y0 = cx + np.cos(a) * (r + 12 * S), cy + np.sin(a) * (r + 12 * S)
        x1, y1 = cx + np.cos(a) * (r + 34 * S), cy + np.sin(a) * (r + 34 * S)
        d.line([(x0, y0), (x1, y1)], fill=(255, 183, 3, 255), width=9 * S)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(255, 183, 3, 255))
    d.ellipse([cx - r * 0.55, cy - r * 0.55, cx + r * 0.55, cy + r * 0.55], fill=(255, 255, 255, 255))
    font = ImageFont.truetype(str(FONT), 92 * S)
    d.text((200 * S, 100 * S), "Lumen", font=font, fill=(255, 255, 255, 255), anchor="lm")
    small = ImageFont.truetype(str(FONT), 40 * S)
    d.text((205 * S, 160 * S), "ENERGY", font=small, fill=(255, 183, 3, 255), anchor="lm")
    img.resize((W // S, H // S), Image.Resampling.LANCZOS).save(HERE / "brand" / "lumen-logo.png", optimize=True)


def backgrounds() -> None:
    W, H = 1280, 1280
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    t = (x / W * 0.6 + y / H * 0.4)[..., None]
    a = np.array([11, 61, 120], np.float32)
    b = np.array([20, 110, 170], np.float32)
    img = (a * (1 - t) + b * t).astype(np.uint8)
    base = Image.fromarray(img)
    glow = Image.new("L", (W, H), 0)
    ImageDraw.Draw(glow).ellipse([W * 0.55, -H * 0.25, W * 1.25, H * 0.45], fill=90)
    glow = glow.filter(ImageFilter.GaussianBlur(120))
    base = Image.composite(Image.new("RGB", (W, H), (255, 183, 3)), base, glow)
    base.save(HERE / "brand" / "bg-blue.png", optimize=True)


def music(seconds: float = 40.0, rate: int = 48000) -> None:
    """A calm four-chord pad with a soft pulse: C - G - Am - F, 4 s each."""
    n = int(seconds * rate)
    t = np.arange(n) / rate
    chords = [(261.63, 329.63, 392.00), (196.00, 246.94, 293.66), (220.00, 261.63, 329.63), (174.61, 220.00, 261.63)]
    out = np.zeros((n, 2), np.float64)
    bar = 4.0
    for i in range(int(np.ceil(seconds / bar))):
        s, e = int(i * bar * rate), min(int((i + 1) * bar * rate), n)
        tt = t[s:e] - i * bar
        env = np.minimum(1, tt / 0.6) * np.minimum(1, (bar - tt) / 0.6)
        for k, f in enumerate(chords[i % 4]):
            tone = np.sin(2 * np.pi * f * tt) + 0.3 * np.sin(4 * np.pi * f * tt)
            out[s:e, 0] += tone * env * (0.5 + 0.2 * k)
            out[s:e, 1] += tone * env * (0.9 - 0.2 * k)
        pulse = np.sin(2 * np.pi * 2 * tt) ** 8 * np.exp(-3 * (tt % 0.5))
        bass = np.sin(2 * np.pi * chords[i % 4][0] / 2 * tt) * pulse * 0.8
        out[s:e] += bass[:, None]
    out /= np.abs(out).max() * 1.6
    write_aac("soft-bed.m4a", out, rate)


def write_aac(name: str, stereo: np.ndarray, rate: int) -> None:
    """Samples in -1..1, shape (n, 2) → music/<name> (AAC, reproducible bytes)."""
    pcm = (stereo * 32767).astype("<i2")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "audio.wav"
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.tobytes())
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(wav), "-c:a", "aac", "-b:a", "96k",
                        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", str(HERE / "music" / name)], check=True)


def background_loop(seconds: float = 4.0, fps: int = 30, size: int = 1080) -> None:
    """A calm moving gradient that loops seamlessly (square, so every rendition can crop it)."""
    n = int(seconds * fps)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    a = np.array([11, 61, 120], np.float32)
    b = np.array([20, 110, 170], np.float32)
    gold = np.array([255, 183, 3], np.float32)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size}x{size}",
           "-framerate", str(fps), "-i", "-", "-c:v", "libx264", "-preset", "slow", "-crf", "30", "-pix_fmt", "yuv420p",
           "-movflags", "+faststart", "-map_metadata", "-1", "-fflags", "+bitexact", str(HERE / "brand" / "bg-loop.mp4")]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for i in range(n):
        ph = 2 * np.pi * i / n
        t = (x * 0.6 + y * 0.4 + 0.08 * np.sin(ph + 3 * y))[..., None]
        img = a * (1 - t) + b * t
        cx, cy = 0.7 + 0.12 * np.cos(ph), 0.2 + 0.1 * np.sin(ph)
        glow = np.exp(-(((x - cx) ** 2 + (y - cy) ** 2) / 0.05))[..., None] * 0.35
        img = img * (1 - glow) + gold * glow
        proc.stdin.write(np.clip(img, 0, 255).astype(np.uint8).tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("ffmpeg failed")


def sound_effects(rate: int = 48000) -> None:
    """A soft two-note chime and a short whoosh."""
    def write(name: str, mono: np.ndarray) -> None:
        write_aac(name, np.repeat(mono[:, None], 2, axis=1) * 0.8, rate)

    t = np.arange(int(0.9 * rate)) / rate
    chime = sum(np.sin(2 * np.pi * f * t) * np.exp(-4 * np.maximum(t - d, 0)) * (t >= d) for f, d in ((1046.5, 0.0), (1568.0, 0.12)))
    write("chime.m4a", chime / np.abs(chime).max())
    t = np.arange(int(0.6 * rate)) / rate
    noise = np.random.default_rng(3).standard_normal(t.size)
    env = np.sin(np.pi * t / t[-1]) ** 2
    whoosh = np.convolve(noise, np.ones(40) / 40, mode="same") * env
    write("whoosh.m4a", whoosh / np.abs(whoosh).max())


if __name__ == "__main__":
    logo()
    backgrounds()
    music()
    background_loop()
    sound_effects()
