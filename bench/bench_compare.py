#!/usr/bin/env python3
"""Three ways to render the same N bill videos: naive MoviePy, the x264 floor, Tailorcast.

    .venv/bin/python bench/bench_compare.py --customers 20        (or: make bench-compare)

Renders the first N valid customers of templates/bill-explainer/sample-customers.csv in
the landscape rendition (1280x720, 30 fps, the issue's reference size):

(a) naive   - what a typical MoviePy 2.2.1 user writes: per customer the whole ~28 s video
              from ImageClip / ColorClip / VideoFileClip backgrounds, TextClip (DejaVu font
              file, 4-tuple margin), ImageClips for the logo, the chart (drawn by
              renderer.charts.render_chart) and the QR code (segno → PNG → PIL), CrossFadeIn
              (and a position function for slides), one CompositeVideoClip per scene,
              concatenate_videoclips, the music bed and sound effects (AudioFileClip,
              CompositeAudioClip), write_videofile(libx264, veryfast, crf 23, aac, threads=1).
              Geometry, timing and texts come from the template (the texts are the template's
              own expressions, so the money is tailorcast.formatting.money's).
(b) floor   - per video, x264 with Tailorcast's encoder_args (veryfast, crf 23, high,
              yuv420p, threads 1) encoding exactly the personal frames (sum of the non-shared
              scenes' duration x fps) from lavfi testsrc2 (moving), and from a still image
              (a real personal frame) repeated with the loop filter (static). The source alone
              (same graph into the null muxer) is measured too.
(c) Tailorcast - the shared scenes of each locale once (renderer.shared.render_shared_scenes, every
              rendition, plus the audio bed), then renderer.video.render_video(template, ctx,
              tmp, cache, threads=1, rendition="landscape") per customer.

Each approach runs sequentially in its own fresh Python process (spawned one after the
other by this script), so that its CPU (RUSAGE_SELF + RUSAGE_CHILDREN deltas: ffmpeg runs as
a child, MoviePy's ffmpeg too), wall (perf_counter) and peak RSS (ru_maxrss of the process
and of its largest child) belong to it alone. Then:

- parallelism: the N Tailorcast customers through a multiprocessing Pool of 1 worker with
  ffmpeg threads=2, and of 2 workers with threads=1 (also 2 x 2, for information);
- memory: the Tailorcast process's peak and current RSS after each customer (5, 10, 20 ...);
- preview: renderer.preview.preview_still for 20 (row, scene, time) combinations after
  start-up, and `tailorcast preview` from a cold process.

Results: rich tables on stdout, JSON in bench/out/compare-<UTC timestamp>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import (ROOT, Usage, audio_bed_key, current_rss_mib, ffmpeg_command, load_customers, loadavg, locale_groups, machine, measure,
                     peak_rss_mib, since, snap, stats, testsrc, unreaped_children, warm_tailorcast, x264_frames)

RENDITION = "landscape"
TARGET_FLOOR_RATIO = 1.2  # Tailorcast CPU-s/video <= 1.2 x the floor
TARGET_SPEEDUP = 15.0  # Tailorcast >= 15 x less CPU-s/video than naive MoviePy
TARGET_PREVIEW_MS = 300.0


# --- measuring (the rest is in measure.py) ---------------------------------------------------------


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = f[3] + (f[4] if len(f) > 4 else 0)
    total = sum(f[:8])
    return total - idle, total


# --- common set-up ---------------------------------------------------------------------------------


def load(args):
    template, customers, contexts = load_customers(args.template, args.csv, args.customers)
    if len(customers) < args.customers:
        raise SystemExit(f"only {len(customers)} valid customers in {args.csv} (asked for {args.customers})")
    return template, customers, contexts


def personal_frames(template, ctx) -> int:
    from renderer.scenes import played_scenes

    played = set(played_scenes(template, ctx, RENDITION))
    return sum(round(s.duration * template.video.fps) for s in template.scenes if not s.shared and s.id in played)


# --- (c) Tailorcast -----------------------------------------------------------------------------------


def phase_shared(args) -> dict:
    """Shared scenes of every locale the N customers use (render_shared_scenes: every rendition) + the audio bed."""
    _, warm = measure(warm_tailorcast)
    import renderer.shared as wr
    import renderer.video as rv
    from renderer.cache import SegmentCache

    template, customers, contexts = load(args)
    cache_root = Path(args.cache)

    # per-rendition accounting of the shared segment encodes (render_shared_scenes looks `segment` up at call time)
    orig_segment = wr.segment
    per_rendition: dict[str, Usage] = {}

    def segment_measured(rs, *a, **k):
        out, u = measure(orig_segment, rs, *a, **k)
        name = f"{rs.width}x{rs.height}"
        per_rendition[name] = per_rendition.get(name, Usage()) + u
        return out

    def shared_once(locale: str, strings_locale: str, variant: str | None) -> dict[str, bytes]:
        segs = wr.render_shared_scenes(template, locale, strings_locale, variant, str(cache_root))
        gc.collect()  # MoviePy readers closed and their ffmpeg reaped inside the measurement
        return segs

    wr.segment = segment_measured
    groups, total = [], Usage()
    for locale, strings_locale, variant in locale_groups(customers, contexts):
        segs, u = measure(shared_once, locale, strings_locale, variant)
        total = total + u
        groups.append({"locale": locale, "strings_locale": strings_locale, "variant": variant, "segments": len(segs),
                       "bytes": sum(len(b) for b in segs.values()), **u.to_json()})
    wr.segment = orig_segment

    # the audio bed(s): once per template and played duration (+ sound effects)
    beds = dict.fromkeys(audio_bed_key(template, ctx, RENDITION) for ctx in contexts)
    t0 = snap()
    for duration, sounds in beds:
        rv.audio_bed(template, duration, SegmentCache(cache_root), sounds)
    gc.collect()
    audio = since(t0)
    total = total + audio
    rend_sizes = {f"{r.width}x{r.height}": r.name for r in template.video.renditions}
    return {
        "warmup": warm.to_json(),
        "groups": groups,
        "audio_beds": {"count": len(beds), **audio.to_json()},
        "total": total.to_json(),
        "per_rendition": {rend_sizes.get(k, k): v.to_json() for k, v in per_rendition.items()},
        "renditions": [r.name for r in template.video.renditions],
        "maxrss": peak_rss_mib(),
        "unreaped_children": unreaped_children(),
    }


def render_one(template, ctx, cache, work: Path, threads: int) -> dict:
    from renderer.video import render_video

    out_dir = Path(tempfile.mkdtemp(prefix="tc-video-", dir=work))
    res, u = measure(render_video, template, ctx, out_dir, cache, threads=threads, rendition=RENDITION)
    size = res.video.stat().st_size
    misses = [sid for sid, shared, hit in res.segments if shared and not hit]
    shutil.rmtree(out_dir, ignore_errors=True)
    return {**u.to_json(), "bytes": size, "frames": res.frames, "duration_s": res.duration, "shared_misses": misses}


def phase_tailorcast(args) -> dict:
    _, warm = measure(warm_tailorcast)
    from renderer.cache import SegmentCache

    template, customers, contexts = load(args)
    cache = SegmentCache(args.cache)
    work = Path(args.work)
    rss_start = {"maxrss_self_mib": peak_rss_mib()["self_mib"], "rss_mib": current_rss_mib()}
    videos = []
    for i, (c, ctx) in enumerate(zip(customers, contexts, strict=True), 1):
        r = render_one(template, ctx, cache, work, args.threads)
        r.update({"row": c.row, "customer_id": c.customer_id, "locale": c.locale, "personal_frames": personal_frames(template, ctx),
                  "maxrss_self_mib": peak_rss_mib()["self_mib"], "rss_mib": current_rss_mib()})
        videos.append(r)
        print(f"  tailorcast {i:>3}/{len(customers)} {c.customer_id} {c.locale:<3} {r['cpu_s']:6.2f} CPU-s {r['wall_s']:6.2f} wall-s {r['bytes'] / 1e6:5.2f} MB  RSS {r['rss_mib']:.0f} MiB",
              file=sys.stderr, flush=True)
    maxrss = peak_rss_mib()
    # untimed, after the measurements: how many personal frames x264 really encodes (the held rest is appended as skip frames)
    from renderer.video import resolve_all

    encoded = {}
    for rs in resolve_all(template, contexts[0], RENDITION):
        if not rs.shared:
            encoded[rs.id] = {"frames": rs.frames, "x264_frames": x264_frames(rs)}
    return {"warmup": warm.to_json(), "videos": videos, "rss_start": rss_start, "maxrss": maxrss, "unreaped_children": unreaped_children(),
            "x264_frames_first_customer": encoded}


# --- (b) the encoder floor -------------------------------------------------------------------------------


def floor_commands(template, frames: int, still: Path, work: Path) -> dict[str, list[str]]:
    import ffmpeg

    from renderer.encode import encoder_args
    from renderer.profiles import encoder_profile

    v = template.video
    rend = v.rendition(RENDITION)
    fps = v.fps
    enc = encoder_args(encoder_profile(v), fps, threads=1)

    def moving():
        return ffmpeg.input(testsrc(rend.width, rend.height, fps), f="lavfi").filter("format", "yuv420p")

    def static():  # decode the still once, repeat it with the loop filter (not -loop 1: that re-decodes every frame)
        return (
            ffmpeg.input(str(still), framerate=fps)
            .filter("format", "yuv420p")
            .filter("loop", loop=frames - 1, size=1, start=0)
            .filter("setpts", f"N/({fps}*TB)")
        )

    return {
        "testsrc2": ffmpeg_command(moving().output(str(work / "floor-testsrc2.mp4"), vframes=frames, **enc)),
        "testsrc2_source_only": ffmpeg_command(moving().output("-", vframes=frames, f="null")),
        "static": ffmpeg_command(static().output(str(work / "floor-static.mp4"), vframes=frames, **enc)),
        "static_source_only": ffmpeg_command(static().output("-", vframes=frames, f="null")),
    }


def phase_floor(args) -> dict:
    from renderer.preview import preview_still

    template, customers, contexts = load(args)
    work = Path(args.work)
    still = work / "floor-still.png"
    # a real personal frame with every layer in place: the amount scene near its end
    amount = next((s for s in template.scenes if not s.shared), template.scenes[0])
    img, _, _ = preview_still(template, contexts[0], amount.id, amount.duration - 0.5, RENDITION)
    img.save(still)
    runs = []
    for i, (c, ctx) in enumerate(zip(customers, contexts, strict=True), 1):
        frames = personal_frames(template, ctx)
        row = {"row": c.row, "frames": frames}
        for name, cmd in floor_commands(template, frames, still, work).items():
            _, u = measure(subprocess.run, cmd, check=True, capture_output=True)
            row[name] = u.to_json()
        row["testsrc2_bytes"] = (work / "floor-testsrc2.mp4").stat().st_size
        row["static_bytes"] = (work / "floor-static.mp4").stat().st_size
        runs.append(row)
        print(f"  floor {i:>3}/{len(customers)} {frames} frames: testsrc2 {row['testsrc2']['cpu_s']:.2f} CPU-s, static {row['static']['cpu_s']:.2f} CPU-s", file=sys.stderr, flush=True)
    return {"still": f"scene '{amount.id}' at {amount.duration - 0.5:.1f} s of row {customers[0].row}", "runs": runs, "commands": floor_commands(template, runs[0]["frames"], still, work),
            "maxrss": peak_rss_mib(), "unreaped_children": unreaped_children()}


# --- (a) naive MoviePy ---------------------------------------------------------------------------------------

FONT_FILES = {
    ("sans", "regular"): "DejaVuSans.ttf",
    ("sans", "bold"): "DejaVuSans-Bold.ttf",
    ("serif", "regular"): "DejaVuSerif.ttf",
    ("serif", "bold"): "DejaVuSerif-Bold.ttf",
}


def naive_video(template, ctx, out: Path, temp_audio: Path) -> None:
    """The whole video with MoviePy, the way its documentation and a typical user do it."""
    import io

    import numpy as np
    import segno
    from moviepy import (AudioFileClip, ColorClip, CompositeAudioClip, CompositeVideoClip, ImageClip, TextClip, VideoFileClip,
                         afx, concatenate_videoclips, vfx)
    from PIL import Image

    from renderer.charts import ChartStyle, render_chart
    from renderer.overlays import parse_color
    from renderer.profiles import encoder_profile
    from tailorcast import expressions
    from tailorcast.formatting import month_labels
    from tailorcast.paths import FONTS_DIR

    v = template.video
    rend = v.rendition(RENDITION)
    W, H, fps = rend.width, rend.height, v.fps
    short = min(W, H)
    brand = ctx.get("brand", {})
    ctx = {**ctx, "rendition": RENDITION}
    ev = lambda s: expressions.evaluate_text(str(s), ctx).strip()  # noqa: E731
    opened = []  # readers to close (their ffmpeg processes must be reaped to be counted)

    def font(style) -> str:
        return str(FONTS_DIR / FONT_FILES[(style.get("font", "sans"), style.get("weight", "regular"))])

    def background(spec, duration):
        if spec.get("video_path"):
            clip = VideoFileClip(str(spec["video_path"]), audio=False)
            opened.append(clip)
            scale = max(W / clip.w, H / clip.h)
            clip = clip.with_effects([vfx.Loop(duration=duration)]).resized(scale)
            return clip.cropped(x_center=clip.w / 2, y_center=clip.h / 2, width=W, height=H).with_duration(duration)
        if spec.get("image_path"):
            img = ImageClip(str(spec["image_path"]))
            scale = max(W / img.w, H / img.h)
            img = img.resized(scale)
            return img.cropped(x_center=img.w / 2, y_center=img.h / 2, width=W, height=H).with_duration(duration)
        r, g, b, _ = parse_color(ev(spec.get("color", "#000000")))
        return ColorClip((W, H), color=(r, g, b)).with_duration(duration)

    def layer_clip(layer, x, y, w, h):
        style = {k: (ev(val) if k in ("color", "fill") else val) for k, val in layer.style_for(RENDITION).items()}
        p = layer.params
        if layer.type in ("text", "button"):
            px = max(1, round(float(style.get("size", 0.06)) * short))
            pad = round(px * 0.3)  # 4-tuple margin: TextClip clips descenders without it
            align = {"start": "left", "end": "right"}.get(style.get("align", "center"), style.get("align", "center"))
            if layer.type == "button":
                style.setdefault("weight", "bold")
                fill = parse_color(style.get("fill", brand.get("accent", "#FFB703")))
                clip = TextClip(font=font(style), text=ev(p["text"]), font_size=px, color=style.get("color", "#111111"), bg_color=fill,
                                size=(w, h), method="caption", text_align="center", margin=(0, 0, 0, 0))
                return clip, x, y
            clip = TextClip(font=font(style), text=ev(p["text"]), font_size=px, color=style.get("color", brand.get("ink", "#FFFFFF")),
                            size=(w, h), method="caption", text_align=align, horizontal_align=align, vertical_align="center",
                            margin=(0, pad, 0, pad))
            return clip, x, y - pad
        if layer.type == "image":
            img = ImageClip(str(p["src_path"]))
            scale = min(w / img.w, h / img.h)
            img = img.resized(scale)
            return img, x + (w - img.w) // 2, y + (h - img.h) // 2
        if layer.type == "chart":
            values = list(ctx[p["values"]] or ())
            last = ctx.get(p.get("last_month", ""))
            labels = month_labels(last, len(values), ctx["locale"]) if last and p.get("labels", "months") == "months" else []
            cs = ChartStyle(bar=parse_color(style.get("color", "#FFFFFF99")), highlight=parse_color(style.get("fill", brand.get("accent", "#FFB703"))),
                            ink=parse_color(brand.get("ink", "#FFFFFF")), grid=(255, 255, 255, 90), label_size=max(1, round(float(style.get("size", 0.028)) * short)))
            pic = render_chart(values, labels, w, h, cs, kind=p.get("kind", "bar"), highlight=p.get("highlight", "last"), average=bool(p.get("average", True)), unit=p.get("unit", ""))
            return ImageClip(np.asarray(pic)), x, y
        if layer.type == "qr":
            buf = io.BytesIO()
            segno.make(ev(p["data"]), error="m", micro=False).save(buf, kind="png", scale=10, border=2)
            pic = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
            side = min(w, h)
            pic = pic.resize((side, side), Image.Resampling.NEAREST)
            return ImageClip(np.asarray(pic)), x + (w - side) // 2, y + (h - side) // 2
        if layer.type == "shape":
            r, g, b, _ = parse_color(style.get("fill", "#FFFFFF33"))
            return ColorClip((w, h), color=(r, g, b)), x, y
        raise ValueError(f"naive MoviePy: no layer type {layer.type!r}")

    scenes = []
    sounds = []
    t_scene = 0.0
    for scene in template.scenes:
        if scene.when and not expressions.evaluate_condition(scene.when, ctx):
            continue
        d = round(scene.duration * fps) / fps
        layers = [background(scene.background, d)]
        for layer in scene.layers:
            if layer.when and not expressions.evaluate_condition(layer.when, ctx):
                continue
            x, y, w, h = layer.box_for(RENDITION).rect(W, H)
            clip, cx, cy = layer_clip(layer, x, y, w, h)
            start = layer.start
            end = layer.end if layer.end is not None else d
            clip = clip.with_start(start).with_duration(end - start)
            a = layer.enter
            if a.effect != "none":
                clip = clip.with_effects([vfx.CrossFadeIn(a.duration)])  # pop / wipe drawn as a plain fade: cheaper than the real thing
            if a.effect.startswith("slide-"):
                dx, dy = {"slide-left": (-1, 0), "slide-right": (1, 0), "slide-up": (0, 1), "slide-down": (0, -1)}[a.effect]
                dist, dur = round(0.08 * short), a.duration

                def pos(t, cx=cx, cy=cy, dx=dx, dy=dy, dist=dist, dur=dur):
                    k = 1 - (1 - min(t / dur, 1.0)) ** 3
                    return (cx + dx * dist * (1 - k), cy + dy * dist * (1 - k))

                clip = clip.with_position(pos)
            else:
                clip = clip.with_position((cx, cy))
            layers.append(clip)
        scenes.append(CompositeVideoClip(layers, size=(W, H)).with_duration(d))
        for snd in scene.sounds:
            fx = AudioFileClip(str(snd.path))
            opened.append(fx)
            sounds.append(fx.with_effects([afx.MultiplyVolume(snd.volume)]).with_start(t_scene + snd.at))
        t_scene += d
    video = concatenate_videoclips(scenes)
    duration = video.duration
    parts = []
    if v.music is not None:
        music = AudioFileClip(str(v.music.path))
        opened.append(music)
        if music.duration < duration:
            music = music.with_effects([afx.AudioLoop(duration=duration)])
        music = music.subclipped(0, duration).with_effects([afx.MultiplyVolume(v.music.volume), afx.AudioFadeIn(v.music.fade_in), afx.AudioFadeOut(v.music.fade_out)])
        parts.append(music)
    parts += sounds
    if parts:
        video = video.with_audio(CompositeAudioClip(parts).with_duration(duration))
    try:
        video.write_videofile(str(out), fps=fps, codec="libx264", preset="veryfast", ffmpeg_params=["-crf", "23"], audio_codec="aac",
                              audio_bitrate=encoder_profile(v).audio_bitrate, temp_audiofile=str(temp_audio), threads=1, logger=None)
    finally:
        video.close()
        for clip in opened:
            clip.close()


def phase_naive(args) -> dict:
    from importlib.metadata import version

    t_warm = snap()
    import moviepy  # noqa: F401

    warm = since(t_warm).to_json()
    template, customers, contexts = load(args)
    customers, contexts = customers[: args.naive_customers], contexts[: args.naive_customers]
    work = Path(args.work)
    videos = []
    for i, (c, ctx) in enumerate(zip(customers, contexts, strict=True), 1):
        out = work / f"naive-{c.row}.mp4"
        t0 = snap()
        naive_video(template, ctx, out, work / f"naive-{c.row}-TEMP_MPY_audio.m4a")
        gc.collect()
        u = since(t0)
        r = {"row": c.row, "customer_id": c.customer_id, "locale": c.locale, **u.to_json(), "bytes": out.stat().st_size}
        if i == 1:  # untimed: what came out (PyAV)
            from renderer.probe import probe

            info = probe(out)
            r.update({"frames": info.video_frames, "duration_s": info.duration, "width": info.width, "height": info.height})
            if args.keep:
                shutil.copyfile(out, Path(args.keep) / f"naive-{c.row}.mp4")
        out.unlink()
        videos.append(r)
        print(f"  naive {i:>3}/{len(customers)} {c.customer_id} {c.locale:<3} {u.cpu:6.2f} CPU-s {u.wall:6.2f} wall-s {r['bytes'] / 1e6:5.2f} MB", file=sys.stderr, flush=True)
    return {"moviepy": version("moviepy"), "warmup": warm, "videos": videos, "maxrss": peak_rss_mib(), "unreaped_children": unreaped_children()}


# --- parallelism: worker processes x ffmpeg threads -------------------------------------------------------

_W: dict = {}


def _pool_init(argv: dict) -> None:
    args = argparse.Namespace(**argv)
    warm_tailorcast()
    from renderer.cache import SegmentCache

    template, customers, contexts = load(args)
    _W.update(template=template, contexts=contexts, cache=SegmentCache(args.cache), work=Path(args.work), threads=args.threads)
    Path(args.work, f"ready-{os.getpid()}").touch()


def _pool_task(i: int) -> dict:
    r = render_one(_W["template"], _W["contexts"][i], _W["cache"], _W["work"], _W["threads"])
    return {**r, "pid": os.getpid(), "maxrss_self_mib": peak_rss_mib()["self_mib"], "rss_mib": current_rss_mib()}


def phase_parallel(args) -> dict:
    """One configuration (args.workers x args.threads): the N customers through a Pool, shared scenes cached."""
    import multiprocessing as mp

    work = Path(args.work)
    mpc = mp.get_context("spawn")
    argv = {**vars(args)}
    t_all = snap()
    pool = mpc.Pool(args.workers, initializer=_pool_init, initargs=(argv,))
    deadline = time.time() + 300
    while len(list(work.glob("ready-*"))) < args.workers:  # every worker imported and warm before the clock starts
        if time.time() > deadline:
            raise SystemExit("pool workers did not start")
        time.sleep(0.05)
    j0 = machine_jiffies()
    t0 = snap()
    load0 = loadavg()
    results = pool.map(_pool_task, range(args.customers), chunksize=1)
    u = since(t0)
    j1 = machine_jiffies()
    load1 = loadavg()
    pool.close()
    pool.join()
    tree = since(t_all)  # driver + workers (reaped now) + their ffmpeg children, including start-up
    hz = os.sysconf("SC_CLK_TCK")
    busy, tot = j1[0] - j0[0], j1[1] - j0[1]
    return {
        "workers": args.workers,
        "threads": args.threads,
        "customers": args.customers,
        "wall_s": u.wall,
        "tasks_cpu_s": sum(r["cpu_s"] for r in results),  # each worker's RUSAGE_SELF+CHILDREN per task: this run's work alone
        "tasks_wall_s_mean": statistics.fmean(r["wall_s"] for r in results),
        "process_tree": tree.to_json(),  # includes the workers' start-up (imports)
        "machine_busy_cpu_s": busy / hz,  # every process on the machine, other users included
        "machine_capacity_cpu_s": tot / hz,
        "machine_busy_fraction": busy / tot if tot else float("nan"),
        "load_average": {"start": load0, "end": load1},
        "bytes_mean": statistics.fmean(r["bytes"] for r in results),
        "worker_maxrss_mib": max(r["maxrss_self_mib"] for r in results),
        "pids": sorted({r["pid"] for r in results}),
        "shared_misses": sum(len(r["shared_misses"]) for r in results),
    }


# --- preview latency ----------------------------------------------------------------------------------------


def phase_preview(args) -> dict:
    import io

    t_start = snap()
    warm_tailorcast()
    from renderer.preview import preview_still

    template, customers, contexts = load(args)
    startup = since(t_start).to_json()
    scenes = [s for s in template.scenes]
    # start-up: one still of each scene for the first customer (fonts, background images, clip decoder warm)
    first = []
    for s in scenes:
        t0 = time.perf_counter()
        preview_still(template, contexts[0], s.id, s.duration / 2, RENDITION)
        first.append({"scene": s.id, "ms": (time.perf_counter() - t0) * 1000})
    fractions = (0.05, 0.3, 0.55, 0.8, 0.97)
    others = list(range(1, len(customers))) or [0]
    combos = []
    for k in range(args.preview_stills):
        ci = others[k % len(others)]
        s = scenes[k % len(scenes)]
        at = round(s.duration * fractions[(3 * k + k // len(scenes)) % len(fractions)], 2)
        t0 = time.perf_counter()
        img, sid, local = preview_still(template, contexts[ci], s.id, at, RENDITION)
        ms = (time.perf_counter() - t0) * 1000
        t1 = time.perf_counter()
        img.save(io.BytesIO(), "PNG", compress_level=1)  # what `tailorcast preview` then writes
        png_ms = (time.perf_counter() - t1) * 1000
        combos.append({"row": customers[ci].row, "scene": sid, "at": local, "ms": ms, "png_ms": png_ms, "size": f"{img.width}x{img.height}"})
    return {"startup": startup, "first_per_scene": first, "stills": combos, "ms": stats([c["ms"] for c in combos]),
            "with_png_ms": stats([c["ms"] + c["png_ms"] for c in combos]), "maxrss": peak_rss_mib()}


def cold_cli_preview(args, work: Path, runs: int = 3) -> dict:
    """`tailorcast preview` in a fresh process: wall time of the whole command (imports included)."""
    exe = Path(sys.executable).with_name("tailorcast")
    cmd0 = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "tailorcast.cli"])]
    out = []
    template_rows = [2, 3, 4, 5, 6]
    for k in range(runs):
        row = template_rows[k % len(template_rows)]
        cmd = [*cmd0, "preview", str(args.template), "--row", str(row), "--scene", "amount", "--at", "3", "--rendition", RENDITION, "--out", str(work / f"cold-{k}.png")]
        t0 = snap()
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        u = since(t0)
        if p.returncode != 0:
            raise SystemExit(f"tailorcast preview failed: {p.stderr[-800:]}")
        reported = None
        if "(" in p.stdout and " ms)" in p.stdout:
            try:
                reported = float(p.stdout.rsplit("(", 1)[1].split(" ms)")[0])
            except ValueError:
                pass
        out.append({"row": row, "wall_s": u.wall, "cpu_s": u.cpu_children, "reported_ms": reported})
    return {"command": " ".join(cmd[:1] + [c for c in cmd[1:]]).replace(str(work), "$TMP"), "runs": out,
            "wall_s": stats([r["wall_s"] for r in out])}


# --- orchestration ----------------------------------------------------------------------------------------------

PHASES = {"shared": phase_shared, "tailorcast": phase_tailorcast, "floor": phase_floor, "naive": phase_naive, "parallel": phase_parallel, "preview": phase_preview}
ALL = ("tailorcast", "floor", "naive", "parallel", "preview")


def run_phase(args, name: str, work: Path, cache: Path | None = None, **extra) -> dict:
    """Run one phase in a fresh Python process; its JSON result, plus what the process cost as a whole."""
    work.mkdir(parents=True, exist_ok=True)
    result = work / "result.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", name, "--result", str(result), "--work", str(work),
           "--template", str(args.template), "--csv", str(args.csv), "--customers", str(args.customers),
           "--naive-customers", str(args.naive_customers), "--threads", str(extra.get("threads", args.threads)),
           "--workers", str(extra.get("workers", 1)), "--preview-stills", str(args.preview_stills)]
    if cache is not None:
        cmd += ["--cache", str(cache)]
    if args.keep:
        cmd += ["--keep", str(args.keep)]
    print(f"[{time.strftime('%H:%M:%S')}] phase {name} {extra or ''} (load average {loadavg()[0]:.2f})", file=sys.stderr, flush=True)
    la0 = loadavg()
    t0 = snap()
    subprocess.run(cmd, check=True, cwd=ROOT)
    u = since(t0)
    out = json.loads(result.read_text())
    out["process"] = {"wall_s": u.wall, "cpu_s": u.cpu_children, "load_average": {"start": la0, "end": loadavg()}}
    return out


def _videos_summary(v: list[dict], maxrss: dict) -> dict:
    """One approach's videos: CPU (and its Python and ffmpeg parts), wall time and size, and its process's peak RSS."""
    return {
        "videos": len(v),
        "cpu_s": stats([x["cpu_s"] for x in v]),
        "cpu_python_s_mean": statistics.fmean(x["cpu_python_s"] for x in v),
        "cpu_ffmpeg_s_mean": statistics.fmean(x["cpu_children_s"] for x in v),
        "wall_s": stats([x["wall_s"] for x in v]),
        "mb": stats([x["bytes"] / 1e6 for x in v]),
        "maxrss_self_mib": maxrss["self_mib"],
        "maxrss_children_mib": maxrss["children_mib"],
    }


def summarize(r: dict, args) -> dict:
    s: dict = {}
    tc = r.get("tailorcast")
    sh = r.get("shared")
    if tc and sh:
        v = tc["videos"]
        n = len(v)
        land = sh["per_rendition"].get(RENDITION, {"cpu_s": 0.0, "wall_s": 0.0})
        shared_land = land["cpu_s"] + sh["audio_beds"]["cpu_s"]
        s["tailorcast"] = {
            **_videos_summary(v, tc["maxrss"]),
            "shared_misses": sum(len(x["shared_misses"]) for x in v),
            "shared_cpu_s_all_renditions": sh["total"]["cpu_s"],
            "shared_wall_s_all_renditions": sh["total"]["wall_s"],
            "shared_cpu_s_landscape_and_audio": shared_land,
            "shared_cpu_s_per_video_amortised": shared_land / n,
            "cpu_s_per_video_incl_shared": statistics.fmean(x["cpu_s"] for x in v) + shared_land / n,
            "wall_s_per_video_incl_shared": statistics.fmean(x["wall_s"] for x in v) + (land["wall_s"] + sh["audio_beds"]["wall_s"]) / n,
            "locales": len(sh["groups"]),
        }
        pts = {}
        for k in (1, 5, 10, 20, 50, 100):
            if k <= n:
                pts[k] = {"maxrss_self_mib": v[k - 1]["maxrss_self_mib"], "rss_mib": v[k - 1]["rss_mib"]}
        pts[n] = {"maxrss_self_mib": v[-1]["maxrss_self_mib"], "rss_mib": v[-1]["rss_mib"]}
        s["memory"] = {"start": tc["rss_start"], "after": pts}
    fl = r.get("floor")
    if fl:
        runs = fl["runs"]
        f = {}
        for name in ("testsrc2", "static"):
            enc = [x[name]["cpu_s"] for x in runs]
            src = [x[f"{name}_source_only"]["cpu_s"] for x in runs]
            f[name] = {
                "videos": len(runs),
                "frames": runs[0]["frames"],
                "cpu_s": stats(enc),
                "wall_s": stats([x[name]["wall_s"] for x in runs]),
                "source_only_cpu_s": stats(src),
                "x264_only_cpu_s_mean": statistics.fmean(enc) - statistics.fmean(src),
                "mb": stats([x[f"{name}_bytes"] / 1e6 for x in runs]),
                "maxrss_self_mib": fl["maxrss"]["self_mib"],
                "maxrss_children_mib": fl["maxrss"]["children_mib"],
            }
        s["floor"] = f
    nv = r.get("naive")
    if nv:
        v = nv["videos"]
        s["naive"] = {
            **_videos_summary(v, nv["maxrss"]),
            "first_video": {k: v[0].get(k) for k in ("frames", "duration_s", "width", "height")},
        }
    t = s.get("tailorcast")
    if t:  # how many customers per locale group before the shared work is paid back
        per, shared = t["cpu_s"]["mean"], t["shared_cpu_s_landscape_and_audio"]
        be = {}
        if "naive" in s and s["naive"]["cpu_s"]["mean"] / TARGET_SPEEDUP > per:
            be["speedup_target"] = shared / (s["naive"]["cpu_s"]["mean"] / TARGET_SPEEDUP - per)
        if "floor" in s and TARGET_FLOOR_RATIO * s["floor"]["testsrc2"]["cpu_s"]["mean"] > per:
            be["floor_target_testsrc2"] = shared / (TARGET_FLOOR_RATIO * s["floor"]["testsrc2"]["cpu_s"]["mean"] - per)
        t["break_even_videos"] = be  # N at which personal + shared/N meets the target (same locales)
    targets = []
    if t and "floor" in s:
        per = t["cpu_s"]["mean"]
        for label, cpu in (("personal", per), ("personal + amortised shared", t["cpu_s_per_video_incl_shared"])):
            for fname in ("testsrc2", "static"):
                fl_cpu = s["floor"][fname]["cpu_s"]["mean"]
                ratio = cpu / fl_cpu
                targets.append({"target": f"Tailorcast {label} CPU-s/video <= {TARGET_FLOOR_RATIO} x floor ({fname})", "value": ratio,
                                "limit": TARGET_FLOOR_RATIO, "pass": ratio <= TARGET_FLOOR_RATIO, "primary": fname == "testsrc2"})
    if t and "naive" in s:
        nv_cpu = s["naive"]["cpu_s"]["mean"]
        for label, cpu in (("personal + amortised shared", t["cpu_s_per_video_incl_shared"]), ("personal", t["cpu_s"]["mean"])):
            ratio = nv_cpu / cpu
            targets.append({"target": f"naive / Tailorcast ({label}) CPU-s/video >= {TARGET_SPEEDUP:g}", "value": ratio, "limit": TARGET_SPEEDUP,
                            "pass": ratio >= TARGET_SPEEDUP, "primary": True})
    pv = r.get("preview")
    if pv:
        targets.append({"target": f"preview_still p95 <= {TARGET_PREVIEW_MS:g} ms", "value": pv["ms"]["p95"], "limit": TARGET_PREVIEW_MS,
                        "pass": pv["ms"]["p95"] <= TARGET_PREVIEW_MS, "primary": True})
    if "memory" in s:
        pts = s["memory"]["after"]
        ks = sorted(pts)
        lo = next((k for k in ks if k >= 5), ks[0])
        growth = pts[ks[-1]]["maxrss_self_mib"] - pts[lo]["maxrss_self_mib"]
        s["memory"]["growth_mib"] = growth
        targets.append({"target": f"worker peak RSS flat from customer {lo} to {ks[-1]} (growth <= 5 %)", "value": growth,
                        "limit": 0.05 * pts[lo]["maxrss_self_mib"], "pass": growth <= 0.05 * pts[lo]["maxrss_self_mib"], "primary": True})
    s["targets"] = targets
    return s


def print_tables(r: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(width=max(170, Console().width))
    s = r["summary"]
    m = r["machine"]
    con.print(f"[bold]bench_compare[/] {r['date']}  {r['template']} {RENDITION} {r['size']} @ {r['fps']} fps, {r['customers']} customers "
              f"(naive: {r['naive_customers']}); {m['cpus']} CPUs {m['cpu_model']}, {m['memory_gib']} GiB, Python {m['python']}, MoviePy {m['moviepy']}, {m['ffmpeg']}")
    con.print(f"load average at start {r['load_average']['start']}, at end {r['load_average']['end']}"
              + ("  [yellow]other processes were using the CPUs: wall times are inflated more than CPU times[/]" if max(r["load_average"]["start"][0], r["load_average"]["end"][0]) > 0.7 else ""))

    t = Table(title="Per video, landscape 1280x720 (means; CPU = RUSAGE_SELF + RUSAGE_CHILDREN)", title_justify="left")
    for c in ("approach", "videos", "CPU-s / video", "wall-s / video", "peak RSS process MiB", "peak RSS largest child MiB", "MB / video", "naive ÷ this (CPU)", "this ÷ floor testsrc2 (CPU)"):
        t.add_column(c, justify="left" if c == "approach" else "right")
    nv = s.get("naive")
    fl = s.get("floor", {})
    base = fl.get("testsrc2", {}).get("cpu_s", {}).get("mean")
    nvc = nv["cpu_s"]["mean"] if nv else None

    def row(name, videos, cpu, wall, rss_s, rss_c, mb):
        t.add_row(name, str(videos), f"{cpu:.2f}", f"{wall:.2f}", f"{rss_s:.0f}" if rss_s is not None else "-", f"{rss_c:.0f}" if rss_c is not None else "-",
                  f"{mb:.2f}" if mb is not None else "-", f"{nvc / cpu:.1f}x" if nvc else "-", f"{cpu / base:.2f}" if base else "-")

    if nv:
        row("(a) naive MoviePy, whole video", nv["videos"], nv["cpu_s"]["mean"], nv["wall_s"]["mean"], nv["maxrss_self_mib"], nv["maxrss_children_mib"], nv["mb"]["mean"])
    for name, label in (("testsrc2", "(b) floor: x264, personal frames, testsrc2"), ("static", "(b) floor: x264, personal frames, still + loop")):
        if name in fl:
            f = fl[name]
            row(f"{label} ({f['frames']} fr)", f["videos"], f["cpu_s"]["mean"], f["wall_s"]["mean"], f["maxrss_self_mib"], f["maxrss_children_mib"], f["mb"]["mean"])
    tc = s.get("tailorcast")
    if tc:
        row("(c) Tailorcast, personal (shared cached)", tc["videos"], tc["cpu_s"]["mean"], tc["wall_s"]["mean"], tc["maxrss_self_mib"], tc["maxrss_children_mib"], tc["mb"]["mean"])
        row(f"(c) Tailorcast + shared amortised over {tc['videos']}", tc["videos"], tc["cpu_s_per_video_incl_shared"], tc["wall_s_per_video_incl_shared"], None, None, tc["mb"]["mean"])
    con.print(t)

    if tc or fl:
        t = Table(title="Details", title_justify="left")
        t.add_column("figure")
        t.add_column("value", justify="right")
        t.add_column("note")
        if nv:
            t.add_row("naive: Python / ffmpeg CPU-s", f"{nv['cpu_python_s_mean']:.2f} / {nv['cpu_ffmpeg_s_mean']:.2f}", f"median {nv['cpu_s']['median']:.2f}, range {nv['cpu_s']['min']:.2f}–{nv['cpu_s']['max']:.2f}; output {nv['first_video']}")
        for name in ("testsrc2", "static"):
            if name in fl:
                f = fl[name]
                t.add_row(f"floor {name}: source alone / x264 alone CPU-s", f"{f['source_only_cpu_s']['mean']:.2f} / {f['x264_only_cpu_s_mean']:.2f}", "same graph into -f null; x264 alone = encode − source")
        if tc:
            xf = r["tailorcast"].get("x264_frames_first_customer", {})
            if xf:
                t.add_row("Tailorcast: personal frames x264 encodes", f"{sum(x['x264_frames'] for x in xf.values())} / {sum(x['frames'] for x in xf.values())}",
                          "first customer; the held frames after the last animation are appended as skip frames (renderer/holdskip.py): " + ", ".join(f"{k} {x['x264_frames']}/{x['frames']}" for k, x in xf.items()))
            t.add_row("Tailorcast: Python / ffmpeg CPU-s", f"{tc['cpu_python_s_mean']:.2f} / {tc['cpu_ffmpeg_s_mean']:.2f}", f"median {tc['cpu_s']['median']:.2f}, range {tc['cpu_s']['min']:.2f}–{tc['cpu_s']['max']:.2f}; shared cache misses {tc['shared_misses']}")
            sh = r["shared"]
            t.add_row("shared, all renditions (CPU-s total)", f"{tc['shared_cpu_s_all_renditions']:.2f}",
                      f"{len(sh['groups'])} locales × {len(sh['renditions'])} renditions via renderer.shared.render_shared_scenes + {sh['audio_beds']['count']} audio bed; wall {tc['shared_wall_s_all_renditions']:.2f} s")
            t.add_row("shared, landscape + audio bed (CPU-s total)", f"{tc['shared_cpu_s_landscape_and_audio']:.2f}", f"→ {tc['shared_cpu_s_per_video_amortised']:.3f} CPU-s / video at N = {tc['videos']}")
            for k, val in tc.get("break_even_videos", {}).items():
                t.add_row(f"break-even N ({k.replace('_', ' ')})", f"{val:.0f}", f"videos over these {tc['locales']} locales for personal + shared/N to meet that target")
        con.print(t)

    par = r.get("parallel")
    if par:
        t = Table(title=f"Parallelism: {r['customers']} Tailorcast customers through a multiprocessing Pool (shared scenes cached)", title_justify="left")
        for c in ("workers × ffmpeg threads", "wall-s total", "wall-s / video", "videos / min", "CPU-s / video (tasks)", "cores used by us", "process tree CPU-s", "machine busy CPU-s", "of which others", "machine busy %", "load avg start→end"):
            t.add_column(c, justify="left" if c.startswith("workers") else "right")
        for p in par:
            n = p["customers"]
            t.add_row(f"{p['workers']} × {p['threads']}", f"{p['wall_s']:.1f}", f"{p['wall_s'] / n:.2f}", f"{60 * n / p['wall_s']:.1f}", f"{p['tasks_cpu_s'] / n:.2f}", f"{p['tasks_cpu_s'] / p['wall_s']:.2f}",
                      f"{p['process_tree']['cpu_s']:.1f}", f"{p['machine_busy_cpu_s']:.1f}", f"{max(p['machine_busy_cpu_s'] - p['tasks_cpu_s'], 0):.1f}", f"{100 * p['machine_busy_fraction']:.0f}", f"{p['load_average']['start'][0]:.2f}→{p['load_average']['end'][0]:.2f}")
        con.print(t)
        if r.get("parallel_recommendation"):
            con.print(r["parallel_recommendation"])

    mem = s.get("memory")
    if mem:
        t = Table(title="Memory of the Tailorcast worker process (sequential, one process)", title_justify="left")
        for c in ("after customers", "peak RSS (ru_maxrss) MiB", "current RSS MiB"):
            t.add_column(c, justify="right")
        t.add_row("0 (warm, before the first)", f"{mem['start']['maxrss_self_mib']:.0f}", f"{mem['start']['rss_mib']:.0f}")
        for k, v in sorted(mem["after"].items(), key=lambda kv: int(kv[0])):
            t.add_row(str(k), f"{v['maxrss_self_mib']:.0f}", f"{v['rss_mib']:.0f}")
        con.print(t)

    pv = r.get("preview")
    if pv:
        t = Table(title=f"Preview: renderer.preview.preview_still, {pv['ms']['n']} (row, scene, time) combinations after start-up, landscape", title_justify="left")
        for c in ("figure", "median", "p95", "max", "min"):
            t.add_column(c, justify="left" if c == "figure" else "right")
        t.add_row("preview_still ms", f"{pv['ms']['median']:.0f}", f"{pv['ms']['p95']:.0f}", f"{pv['ms']['max']:.0f}", f"{pv['ms']['min']:.0f}")
        t.add_row("+ PNG encode (compress 1) ms", f"{pv['with_png_ms']['median']:.0f}", f"{pv['with_png_ms']['p95']:.0f}", f"{pv['with_png_ms']['max']:.0f}", f"{pv['with_png_ms']['min']:.0f}")
        by = {}
        for c in pv["stills"]:
            by.setdefault(c["scene"], []).append(c["ms"])
        for sid, vals in by.items():
            t.add_row(f"  scene {sid} ({len(vals)})", f"{statistics.median(vals):.0f}", "", f"{max(vals):.0f}", f"{min(vals):.0f}")
        cold = r.get("preview_cold")
        if cold:
            w = cold["wall_s"]
            t.add_row(f"`tailorcast preview` cold process, wall ms ({w['n']} runs)", f"{1000 * w['median']:.0f}", "", f"{1000 * w['max']:.0f}", f"{1000 * w['min']:.0f}")
        con.print(t)

    for tg in s["targets"]:
        mark = "[green]PASS[/]" if tg["pass"] else "[red]FAIL[/]"
        con.print(f"{mark} {tg['target']}: {tg['value']:.2f}" + ("" if tg["primary"] else "  (secondary)"))


def recommend(par: list[dict]) -> str:
    """Compare 1 x 2 and 2 x 1 by their median wall time over the repeats."""
    walls: dict[tuple[int, int], list[dict]] = {}
    for p in par:
        walls.setdefault((p["workers"], p["threads"]), []).append(p)
    if (1, 2) not in walls or (2, 1) not in walls:
        return ""

    def med(key, field):
        return statistics.median(p[field] / p["customers"] for p in walls[key])

    a, b = (1, 2), (2, 1)
    fast, slow = (a, b) if med(a, "wall_s") < med(b, "wall_s") else (b, a)
    return (f"median over {len(walls[a])} alternating runs each: {fast[0]} worker(s) × {fast[1]} ffmpeg thread(s) {med(fast, 'wall_s'):.2f} s/video "
            f"(CPU {med(fast, 'tasks_cpu_s'):.2f} s/video) vs {slow[0]} × {slow[1]} {med(slow, 'wall_s'):.2f} s/video (CPU {med(slow, 'tasks_cpu_s'):.2f} s/video): "
            f"{fast[0]} × {fast[1]} is {med(slow, 'wall_s') / med(fast, 'wall_s'):.2f}x faster.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=20, help="valid sample customers rendered by Tailorcast and the floor (default 20)")
    ap.add_argument("--naive-customers", type=int, default=None, help="customers for naive MoviePy (default: --customers; it takes ~30 s each)")
    ap.add_argument("--template", type=Path, default=ROOT / "templates" / "bill-explainer")
    ap.add_argument("--csv", type=Path, default=None, help="customer rows (default: the template's sample-customers.csv)")
    ap.add_argument("--threads", type=int, default=1, help="x264 threads for the sequential Tailorcast run (default 1, as Settings.ffmpeg_threads)")
    ap.add_argument("--preview-stills", type=int, default=20)
    ap.add_argument("--parallel-repeats", type=int, default=3, help="runs of each of 1x2 and 2x1, alternating (default 3)")
    ap.add_argument("--skip", default="", help=f"comma-separated phases to leave out: {','.join(ALL)}")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out", help="folder for compare-<timestamp>.json")
    ap.add_argument("--keep", type=Path, default=None, help="keep the first naive video here (to look at it)")
    ap.add_argument("--show", type=Path, default=None, metavar="JSON", help="print the tables of an earlier compare-*.json and exit")
    # internal: one phase in this process
    ap.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.csv = args.csv or args.template / "sample-customers.csv"
    args.naive_customers = min(args.naive_customers or args.customers, args.customers)
    if args.customers < 1:
        ap.error("--customers must be at least 1")

    if args.show:
        print_tables(json.loads(args.show.read_text()))
        return 0
    if args.phase:
        out = PHASES[args.phase](args)
        args.result.write_text(json.dumps(out, default=str))
        return 0

    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    if skip - set(ALL):
        ap.error(f"unknown phase(s) in --skip: {', '.join(sorted(skip - set(ALL)))}")
    started = dt.datetime.now(dt.timezone.utc)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    json_path = args.out / f"compare-{stamp}.json"
    from renderer.profiles import encoder_profile
    from tailorcast.spec.load import load_template

    tmpl = load_template(args.template)
    prof = encoder_profile(tmpl.video)
    rend = tmpl.video.rendition(RENDITION)
    r: dict = {
        "benchmark": "compare",
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "template": tmpl.name,
        "rendition": RENDITION,
        "size": f"{rend.width}x{rend.height}",
        "fps": tmpl.video.fps,
        "profile": {"preset": prof.preset, "crf": prof.crf, "profile": prof.profile},
        "customers": args.customers,
        "naive_customers": args.naive_customers if "naive" not in skip else 0,
        "load_average": {"start": loadavg()},
    }

    def save() -> None:
        r["load_average"]["end"] = loadavg()
        r["summary"] = summarize(r, args)
        json_path.write_text(json.dumps(r, indent=2, default=str) + "\n")

    root = Path(tempfile.mkdtemp(prefix="tc-compare-"))
    try:
        base = root / "cache-base"
        if "tailorcast" not in skip or "parallel" not in skip:
            r["shared"] = run_phase(args, "shared", root / "shared", base)
        if "parallel" not in skip:
            r["parallel"] = []
            for workers, threads in [(1, 2), (2, 1)] * args.parallel_repeats + [(2, 2)]:
                k = len(r["parallel"])
                cache = root / f"cache-par-{k}-{workers}x{threads}"
                shutil.copytree(base, cache)
                r["parallel"].append(run_phase(args, "parallel", root / f"par-{k}-{workers}x{threads}", cache, workers=workers, threads=threads))
                shutil.rmtree(cache, ignore_errors=True)
            r["parallel_recommendation"] = recommend(r["parallel"])
            save()
        if "preview" not in skip:
            r["preview"] = run_phase(args, "preview", root / "preview")
            r["preview_cold"] = cold_cli_preview(args, root / "preview")
            save()
        if "tailorcast" not in skip:
            cache = root / "cache-tailorcast"
            shutil.copytree(base, cache)
            r["tailorcast"] = run_phase(args, "tailorcast", root / "tailorcast", cache)
            save()
        if "floor" not in skip:
            r["floor"] = run_phase(args, "floor", root / "floor")
            save()
        if "naive" not in skip:
            r["naive"] = run_phase(args, "naive", root / "naive")
        save()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print_tables(r)
    print(f"results: {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
