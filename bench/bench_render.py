#!/usr/bin/env python3
"""Render benchmark: CPU-seconds, wall time, peak memory and output size per bill video.

Renders the first N valid sample customers of a template (default
templates/bill-explainer, N = 20) in this one process, one after the other (no
Ray: a Ray worker's CPU is invisible to the driver's rusage), with a fresh
temporary segment cache, in these phases:

1. shared   - the shared scenes of every locale (and variant) the N customers
              use, with ``renderer.shared.render_shared_scenes`` as a billing run does it
              (every rendition of the template), and the audio bed(s): what a
              billing run pays once, not per video;
2. personal - ``renderer.video.render_video`` per customer and rendition (a
              billing job renders every rendition), the shared segments now
              being cache hits: Pillow stills, the ffmpeg encode of each
              personal scene, stream-copy join + audio mux (+ PyAV frame-count
              check), poster;
3. floor    - per rendition, x264 with the template's encoder arguments
              (``renderer.encode.encoder_args(profile, fps, threads=1)``)
              encoding exactly as many frames as the personal scenes have, from
              a synthetic moving source (lavfi ``testsrc2``), once; the same
              source to the null muxer (what the source alone costs); the same
              for only as many frames as x264 really encodes when the renderer
              appends held frames as skip frames (``renderer.holdskip``); and
              x264 re-encoding every frame of one customer's real personal
              segments (minus their decode), i.e. x264 on the actual content;
4. memory   - untimed: peak RSS of the ffmpeg processes themselves (see
              ``memory_probe``: RUSAGE_CHILDREN ru_maxrss cannot tell it).

CPU = user + system time of this process (``RUSAGE_SELF``, all threads) plus
that of its waited-for children (``RUSAGE_CHILDREN``: every ffmpeg). Stages of
``render_video`` are timed by wrapping the module-level functions it calls
(``resolve_all``, ``segment``, ``audio_bed``, ``join``); the renderer itself is
not modified.

Results: tables on stdout and ``bench/out/render-<date>.json``.

    .venv/bin/python bench/bench_render.py --customers 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from measure import (ROOT, Usage, audio_bed_key, ffmpeg_command, git_state, load_customers, locale_groups, loadavg, machine, measure,
                     peak_rss_mib, since, snap, stats, testsrc, total, unreaped_children, warm_tailorcast, warn_if_busy, x264_frames)

TARGET_PERSONAL_CPU_S = 2.0  # the target: <= 2 CPU-s per video


# --- stage accounting ----------------------------------------------------------------------------------


class Stages:
    """Wraps the functions render_video and render_shared look up at call time and sums their Usage per stage."""

    def __init__(self, sizes: dict[tuple[int, int], str | None]) -> None:
        self.sizes = sizes  # (width, height) → rendition name
        self.reset()
        self.shared_encodes: dict[str | None, Usage] = {}  # rendition → Usage of shared segment encodes

    def reset(self) -> None:
        self.acc: dict[str, Usage] = {}
        self.personal_frames = 0
        self.x264_frames = 0  # personal frames x264 really encodes (held frames may be appended as skip frames)
        self.personal_paths: list[Path] = []
        self.shared_misses = 0

    def _add(self, name: str, u: Usage) -> None:
        self.acc[name] = self.acc.get(name, Usage()) + u

    def install(self) -> None:
        import renderer.video as rv
        import renderer.shared as wr

        resolve_all, segment, audio_bed, join = rv.resolve_all, rv.segment, rv.audio_bed, rv.join

        def resolve_all_w(*a, **k):
            scenes, u = measure(resolve_all, *a, **k)
            self._add("stills", u)
            self.personal_frames += sum(rs.frames for rs in scenes if not rs.shared)
            self.x264_frames += sum(x264_frames(rs) for rs in scenes if not rs.shared)
            return scenes

        def segment_w(rs, *a, **k):
            (path, hit), u = measure(segment, rs, *a, **k)
            if rs.shared:
                self._add("shared segment lookup", u)
                self.shared_misses += not hit
                if not hit:
                    name = self.sizes.get((rs.width, rs.height))
                    self.shared_encodes[name] = self.shared_encodes.get(name, Usage()) + u
            else:
                self._add("personal encodes", u)
                self.personal_paths.append(Path(path))
            return path, hit

        def audio_bed_w(*a, **k):
            path, u = measure(audio_bed, *a, **k)
            self._add("audio bed lookup", u)
            return path

        def join_w(*a, **k):
            _, u = measure(join, *a, **k)
            self._add("join + mux + check", u)

        rv.resolve_all, rv.segment, rv.audio_bed, rv.join = resolve_all_w, segment_w, audio_bed_w, join_w
        wr.segment = segment_w  # render_shared_scenes imported it by name


STAGE_ORDER = ["stills", "personal encodes", "join + mux + check", "poster + captions", "shared segment lookup", "audio bed lookup"]


# --- floors --------------------------------------------------------------------------------------------


def floor(template, width: int, height: int, frames: int, work: Path) -> dict:
    """x264 (template encoder args, 1 thread) on ``frames`` frames of a synthetic moving source."""
    import ffmpeg

    from renderer.encode import encoder_args
    from renderer.profiles import encoder_profile

    v = template.video
    src = testsrc(width, height, v.fps)
    out = work / f"floor-{width}x{height}.mp4"
    enc = ffmpeg_command(ffmpeg.input(src, f="lavfi").output(str(out), vframes=frames, **encoder_args(encoder_profile(v), v.fps, threads=1)))
    null = ffmpeg_command(ffmpeg.input(src, f="lavfi").output("-", vframes=frames, pix_fmt="yuv420p", f="null"))
    _, u_enc = measure(subprocess.run, enc, check=True, capture_output=True)
    _, u_src = measure(subprocess.run, null, check=True, capture_output=True)
    return {
        "source": src,
        "frames": frames,
        "encode": u_enc.to_json(),
        "source_only": u_src.to_json(),
        "x264_only_cpu_s": round(u_enc.cpu - u_src.cpu, 4),
        "bytes": out.stat().st_size,
    }


def content_floor(template, segments: list[Path], work: Path) -> dict:
    """x264 (same args) on the real personal content: re-encode one customer's personal segments, minus their decode."""
    import ffmpeg

    from renderer.encode import encoder_args
    from renderer.probe import probe
    from renderer.profiles import encoder_profile

    v = template.video
    enc_u, dec_u, frames = Usage(), Usage(), 0
    for i, seg in enumerate(segments):
        enc = ffmpeg_command(ffmpeg.input(str(seg)).output(str(work / f"refloor-{i}.mp4"), **encoder_args(encoder_profile(v), v.fps, threads=1)))
        dec = ffmpeg_command(ffmpeg.input(str(seg)).output("-", f="null"))
        _, u = measure(subprocess.run, enc, check=True, capture_output=True)
        enc_u = enc_u + u
        _, u = measure(subprocess.run, dec, check=True, capture_output=True)
        dec_u = dec_u + u
        frames += probe(seg).video_frames
    return {
        "frames": frames,
        "segments": len(segments),
        "decode_and_encode": enc_u.to_json(),
        "decode_only": dec_u.to_json(),
        "x264_only_cpu_s": round(enc_u.cpu - dec_u.cpu, 4),
    }


# --- memory of the ffmpeg processes themselves ------------------------------------------------------------

# Linux charges a child's ru_maxrss with the RSS of the process it was forked/vforked from (exec
# records the old mm's high-water mark), so RUSAGE_CHILDREN ru_maxrss is at least this Python's RSS
# at spawn time. To know what ffmpeg itself needs, a tiny helper spawns it and reports wait4()'s
# ru_maxrss = max(helper ≈ 9 MiB, ffmpeg): exact whenever ffmpeg is the larger.
_RSS_HELPER = (
    "import os,sys\n"
    "pid=os.posix_spawn(sys.argv[2],sys.argv[2:],os.environ)\n"
    "_,st,ru=os.wait4(pid,0)\n"
    "open(sys.argv[1],'a').write(f'{ru.ru_maxrss}\\n')\n"
    "sys.exit(os.waitstatus_to_exitcode(st))\n"
)


def memory_probe(template, ctx, cache, work: Path, threads: int, rendition: str | None, floor_frames: int) -> dict:
    """Peak RSS (MiB) of ffmpeg: one customer's personal scenes, one shared scene, the join, the floor encode.

    Runs after the timed phases (the helper costs CPU), with the renderer's command runners wrapped.
    """
    import ffmpeg

    import renderer.encode as re_
    import renderer.video as rv
    from renderer.profiles import encoder_profile

    work.mkdir(parents=True, exist_ok=True)
    log = work / "maxrss.txt"
    orig_run = re_.run

    def wrap(args: list[str]) -> list[str]:
        return [sys.executable, "-S", "-c", _RSS_HELPER, str(log), *args]

    def take() -> float:
        vals = [int(x) / 1024 for x in log.read_text().split()] if log.exists() else [0.0]
        log.unlink(missing_ok=True)
        return round(max(vals), 1)

    out: dict = {"rendition": rendition}
    re_.run = lambda args, stage, stdin=None: orig_run(wrap(args), stage, stdin)
    try:
        scenes = rv.resolve_all(template, ctx, rendition)
        paths = []
        for rs in scenes:
            p = work / f"{rs.id}.mp4"
            if rs.shared:
                paths.append(rv.segment(rs, template, cache, 1)[0])
            else:
                re_.encode_personal(rs, p, encoder_profile(template.video), threads)
                paths.append(p)
        out["personal_scene_encode_mib"] = take()
        shared = [rs for rs in scenes if rs.shared]
        if shared:
            re_.encode_personal(shared[0], work / "shared.mp4", encoder_profile(template.video), 2)
            out["shared_scene_encode_mib"] = take()
        frames = sum(s.frames for s in scenes)
        audio = rv.audio_bed(template, frames / template.video.fps, cache, rv.scene_sounds(scenes))
        re_.join(paths, audio, work / "video.mp4", frames)
        out["join_mux_mib"] = take()
    finally:
        re_.run = orig_run
    v = template.video
    w, h = scenes[0].width, scenes[0].height
    args = ffmpeg_command(ffmpeg.input(testsrc(w, h, v.fps), f="lavfi").output(str(work / "floor.mp4"), vframes=floor_frames, **re_.encoder_args(encoder_profile(v), v.fps, threads=1)))
    subprocess.run(wrap(args), check=True, capture_output=True)
    out["floor_encode_mib"] = take()
    return out


# --- the run ---------------------------------------------------------------------------------------------


def run(args) -> dict:
    t_start = dt.datetime.now(dt.timezone.utc)
    machine_info = machine()  # before anything is imported: the code measured is the code on disk now
    load_start = loadavg()
    warn_if_busy(load_start)
    t0 = snap()
    _, u_warm = measure(warm_tailorcast)  # one-time imports and the font digest, paid once per worker process

    import renderer.video as rv
    from renderer.cache import SegmentCache
    from renderer.profiles import encoder_profile
    from renderer.shared import render_shared_scenes
    from tailorcast.context import customer_context

    template, customers, ctx_list = load_customers(args.template, args.csv, args.customers)
    all_rends = [(r.name, r.width, r.height) for r in template.video.renditions]
    rends = [r for r in all_rends if not args.rendition or r[0] in args.rendition]
    if not rends:
        raise SystemExit(f"no rendition {args.rendition} in {template.name}; it has {', '.join(r[0] for r in all_rends)}")
    if len(customers) < args.customers:
        print(f"note: only {len(customers)} valid customers in {args.csv} (asked for {args.customers})", file=sys.stderr)

    stages = Stages({(w, h): name for name, w, h in all_rends})
    stages.install()
    work = Path(tempfile.mkdtemp(prefix="tc-bench-"))
    try:
        cache_root = work / "cache"
        cache = SegmentCache(cache_root)

        # 1. shared work: shared scenes per locale (+ variant), every rendition; audio bed(s)
        groups = locale_groups(customers, ctx_list)
        beds = dict.fromkeys(audio_bed_key(template, ctx) for ctx in ctx_list)  # (duration, sounds): one audio bed each
        contexts = {c.row: ctx for c, ctx in zip(customers, ctx_list, strict=True)}
        shared_groups, shared_u = [], Usage()

        def shared_once(locale: str, strings_locale: str, variant: str | None) -> dict[str, bytes]:
            segs = render_shared_scenes(template, locale, strings_locale, variant, str(cache_root))
            gc.collect()  # MoviePy readers closed (and their ffmpeg reaped) inside the measurement
            return segs

        for loc, sloc, variant in groups:
            stages.shared_encodes = {}
            segs, u = measure(shared_once, loc, sloc, variant)
            shared_u = shared_u + u
            shared_groups.append(
                {
                    "locale": loc,
                    "strings_locale": sloc,
                    "variant": variant,
                    "segments": len(segs),
                    "bytes": sum(len(b) for b in segs.values()),
                    **u.to_json(),
                    "encodes_by_rendition": {str(k): v.to_json() for k, v in stages.shared_encodes.items()},
                }
            )
        audio_u = Usage()
        for d, sounds in beds:
            _, u = measure(rv.audio_bed, template, d, cache, sounds)
            audio_u = audio_u + u
        gc.collect()
        shared_total = shared_u + audio_u
        mem_after_shared = peak_rss_mib()

        # 2. personal work: render_video per customer and rendition, shared segments now cached
        videos = []
        last_paths: dict[str | None, list[Path]] = {}
        for i, c in enumerate(customers, 1):
            for name, w, h in rends:
                stages.reset()
                out_dir = work / "out" / f"{i:04d}-{name}"
                tc = snap()
                ctx = customer_context(template, c)
                res = rv.render_video(template, ctx, out_dir, cache, threads=args.threads, rendition=name)
                u = since(tc)
                acc = dict(stages.acc)
                acc["poster + captions"] = u - total(acc.values())  # remainder of render_video + the context
                last_paths[name] = list(stages.personal_paths)
                videos.append(
                    {
                        "row": c.row,
                        "customer_id": c.customer_id,
                        "locale": c.locale,
                        "variant": ctx.get("variant") or None,
                        "rendition": name,
                        "size": f"{w}x{h}",
                        **u.to_json(),
                        "stages": {k: acc[k].to_json() for k in STAGE_ORDER if k in acc},
                        "frames": res.frames,
                        "personal_frames": stages.personal_frames,
                        "x264_frames": stages.x264_frames,
                        "duration_s": res.duration,
                        "video_bytes": res.video.stat().st_size,
                        "poster_bytes": res.poster.stat().st_size,
                        "segments": len(res.segments),
                        "cache_hits": sum(1 for _, _, hit in res.segments if hit),
                        "shared_cache_misses": stages.shared_misses,
                        "_u": u,
                        "_acc": acc,
                    }
                )
                if not args.quiet:
                    print(f"  {i:>3}/{len(customers)} {c.customer_id} {c.locale:<5} {name:<10} {u.cpu:6.2f} CPU-s {u.wall:6.2f} wall-s {res.video.stat().st_size / 1e6:6.2f} MB", file=sys.stderr)
                if args.keep is not None:
                    dest = Path(args.keep) / out_dir.name
                    shutil.copytree(out_dir, dest, dirs_exist_ok=True)
                shutil.rmtree(out_dir, ignore_errors=True)
        mem_after_personal = peak_rss_mib()

        # 3. floors, per rendition
        floors = {}
        for name, w, h in rends:
            mine = [v for v in videos if v["rendition"] == name]
            pf = Counter(v["personal_frames"] for v in mine).most_common(1)[0][0]
            xf = round(statistics.fmean(v["x264_frames"] for v in mine))
            floors[str(name)] = {
                "size": f"{w}x{h}",
                "testsrc2": floor(template, w, h, pf, work),
                "testsrc2_x264_frames": floor(template, w, h, xf, work) if xf != pf else None,
                "real_content": content_floor(template, last_paths[name], work),
            }
        mem_end = peak_rss_mib()
        leftover = unreaped_children()

        # 4. (untimed) what the ffmpeg processes themselves need
        name0 = rends[0][0]
        ffmpeg_mem = memory_probe(template, contexts[customers[0].row], cache, work / "memprobe", args.threads, name0, floors[str(name0)]["testsrc2"]["frames"])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # --- aggregate
    def summary(vs: list[dict]) -> dict:
        n = len(vs)
        mean = total(v["_u"] for v in vs).scaled(1 / n)
        stage_mean = {}
        for k in STAGE_ORDER:
            if any(k in v["_acc"] for v in vs):
                stage_mean[k] = total(v["_acc"].get(k, Usage()) for v in vs).scaled(1 / n).to_json()
        return {
            "videos": n,
            "per_video_mean": mean.to_json(),
            "cpu_s": stats([v["_u"].cpu for v in vs]),
            "wall_s": stats([v["_u"].wall for v in vs]),
            "stages_mean": stage_mean,
            "video_bytes": stats([v["video_bytes"] for v in vs]),
            "poster_bytes": stats([v["poster_bytes"] for v in vs]),
            "duration_s": stats([v["duration_s"] for v in vs]),
            "personal_frames": stats([v["personal_frames"] for v in vs]),
            "x264_frames": stats([v["x264_frames"] for v in vs]),
            "shared_cache_misses": sum(v["shared_cache_misses"] for v in vs),
        }

    by_rendition = {}
    for name, w, h in rends:
        s = summary([v for v in videos if v["rendition"] == name])
        fl = floors[str(name)]
        s["size"] = f"{w}x{h}"
        s["x264_floor_testsrc2_cpu_s"] = fl["testsrc2"]["encode"]["cpu_s"]
        s["x264_real_content_cpu_s"] = fl["real_content"]["x264_only_cpu_s"]
        s["x264_floor_testsrc2_encoded_frames_cpu_s"] = (fl["testsrc2_x264_frames"] or fl["testsrc2"])["encode"]["cpu_s"]
        by_rendition[str(name)] = s
    overall = summary(videos)
    for v in videos:
        del v["_u"], v["_acc"]
    n_videos, n_customers = len(videos), len(customers)
    personal_cpu = overall["per_video_mean"]["cpu_s"]
    floor_cpu = statistics.fmean(fl["testsrc2"]["encode"]["cpu_s"] for fl in floors.values())
    real_cpu = statistics.fmean(fl["real_content"]["x264_only_cpu_s"] for fl in floors.values())
    floor_enc_cpu = statistics.fmean((fl["testsrc2_x264_frames"] or fl["testsrc2"])["encode"]["cpu_s"] for fl in floors.values())
    return {
        "benchmark": "render",
        "date": t_start.isoformat(timespec="seconds"),
        "machine": machine_info,
        "git_at_end": git_state(),  # differs from machine.git when the tree changed during the run
        "load_average": {"start": load_start, "end": loadavg()},
        "template": str(args.template),
        "template_name": template.name,
        "template_version": template.version,
        "customers_csv": str(args.csv),
        "customers": n_customers,
        "videos": n_videos,
        "renditions": [{"name": n, "width": w, "height": h} for n, w, h in rends],
        "groups": [{"locale": g[0], "strings_locale": g[1], "variant": g[2]} for g in groups],
        "x264_threads_personal": args.threads,
        "fps": template.video.fps,
        "profile": asdict(encoder_profile(template.video)),
        "warmup": u_warm.to_json(),
        "shared": {
            "per_group": shared_groups,
            "audio_beds": {"count": len(beds), "durations_s": sorted({d for d, _ in beds}), "sound_effects": max(len(snd) for _, snd in beds), **audio_u.to_json()},
            "total": shared_total.to_json(),
            "renditions_rendered": len(all_rends),
            "cpu_s_per_group_mean": round(shared_u.cpu / len(groups), 4),
            "cpu_s_per_video_amortized": round(shared_total.cpu / n_videos, 4),
        },
        "personal": {"overall": overall, "by_rendition": by_rendition},
        "per_video": {
            "personal_cpu_s": personal_cpu,
            "target_personal_cpu_s": TARGET_PERSONAL_CPU_S,
            "meets_target": personal_cpu <= TARGET_PERSONAL_CPU_S,
            "x264_floor_testsrc2_cpu_s": round(floor_cpu, 4),
            "personal_over_floor": round(personal_cpu / floor_cpu, 3),
            "x264_floor_testsrc2_encoded_frames_cpu_s": round(floor_enc_cpu, 4),
            "x264_real_content_cpu_s": round(real_cpu, 4),
            "personal_over_real_content_x264": round(personal_cpu / real_cpu, 3),
            "shared_cpu_s_amortized": round(shared_total.cpu / n_videos, 4),
            "total_cpu_s_at_this_n": round(personal_cpu + shared_total.cpu / n_videos, 4),
        },
        "floors": floors,
        "memory_peak": {
            "after_shared": mem_after_shared,
            "after_personal": mem_after_personal,
            "end": mem_end,
            "note": "ru_maxrss; children = largest waited-for child, which Linux charges with this process's RSS at spawn",
        },
        "ffmpeg_peak_rss": ffmpeg_mem,
        "unreaped_children": leftover,
        "total": since(t0).to_json(),
        "videos_detail": videos,
    }


# --- output --------------------------------------------------------------------------------------------


def print_tables(r: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(width=max(120, Console().width))
    m, pv, s, mem, fm = r["machine"], r["per_video"], r["shared"], r["memory_peak"], r["ffmpeg_peak_rss"]
    ov, byr = r["personal"]["overall"], r["personal"]["by_rendition"]
    rn = ", ".join(f"{x['name']} {x['width']}x{x['height']}" for x in r["renditions"])
    con.print(f"[bold]Tailorcast render benchmark[/] {r['date']}  {r['template_name']} v{r['template_version']}: {r['customers']} customers x {len(r['renditions'])} rendition(s) ({rn}) = {r['videos']} videos; locales {', '.join(g['locale'] for g in r['groups'])}")
    la = r["load_average"]
    con.print(f"{m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, Python {m['python']}, {m['ffmpeg']}; load average (1 min) before the run {la['start'][0]:.2f}, at its end {la['end'][0]:.2f} (includes this benchmark)" + ("  [yellow]machine was busy before the run: wall times may be inflated[/]" if la["start"][0] > 0.5 else ""))

    t = Table(title="Per video (mean over all videos)", title_justify="left")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("note")
    ok = "[green]meets[/]" if pv["meets_target"] else "[red]misses[/]"
    t.add_row("personal CPU-s / video", f"{pv['personal_cpu_s']:.2f}", f"{ok} target ≤ {pv['target_personal_cpu_s']:g}; median {ov['cpu_s']['median']:.2f}, range {ov['cpu_s']['min']:.2f}–{ov['cpu_s']['max']:.2f}")
    t.add_row("  of which Python / ffmpeg", f"{ov['per_video_mean']['cpu_python_s']:.2f} / {ov['per_video_mean']['cpu_children_s']:.2f}", "RUSAGE_SELF / RUSAGE_CHILDREN")
    t.add_row("x264 floor CPU-s (testsrc2)", f"{pv['x264_floor_testsrc2_cpu_s']:.2f}", f"all {ov['personal_frames']['median']:.0f} personal frames' worth of synthetic motion; personal = {pv['personal_over_floor']:.2f}x this floor")
    if ov["x264_frames"]["mean"] != ov["personal_frames"]["mean"]:
        t.add_row("  same, frames x264 really encodes", f"{pv['x264_floor_testsrc2_encoded_frames_cpu_s']:.2f}", f"{ov['x264_frames']['mean']:.0f} of {ov['personal_frames']['mean']:.0f} frames (held frames are appended as skip frames)")
    t.add_row("x264 CPU-s, every real personal frame", f"{pv['x264_real_content_cpu_s']:.2f}", f"re-encode of one customer's personal segments, all frames, minus their decode; personal = {pv['personal_over_real_content_x264']:.2f}x")
    t.add_row("personal wall-s / video", f"{ov['wall_s']['mean']:.2f}", f"median {ov['wall_s']['median']:.2f}, range {ov['wall_s']['min']:.2f}–{ov['wall_s']['max']:.2f}")
    t.add_row("shared CPU-s per locale", f"{s['cpu_s_per_group_mean']:.2f}", f"shared scenes of one locale in all {s['renditions_rendered']} rendition(s), once per run")
    t.add_row("shared CPU-s total", f"{s['total']['cpu_s']:.2f}", f"{len(r['groups'])} locale(s) + {s['audio_beds']['count']} audio bed(s) {s['audio_beds']['cpu_s']:.2f}; wall {s['total']['wall_s']:.2f}")
    t.add_row(f"shared CPU-s / video at {r['videos']} videos", f"{pv['shared_cpu_s_amortized']:.2f}", "→ 0 as the run grows")
    t.add_row(f"total CPU-s / video at {r['videos']} videos", f"{pv['total_cpu_s_at_this_n']:.2f}", "personal + amortized shared")
    vb = ov["video_bytes"]
    t.add_row("output MB / video", f"{vb['mean'] / 1e6:.2f}", f"range {vb['min'] / 1e6:.2f}–{vb['max'] / 1e6:.2f}; {ov['duration_s']['mean']:.1f} s; poster {ov['poster_bytes']['mean'] / 1e3:.0f} kB")
    t.add_row("peak RSS Python MiB", f"{mem['end']['self_mib']:.0f}", f"after shared phase {mem['after_shared']['self_mib']:.0f}, after personal {mem['after_personal']['self_mib']:.0f}")
    t.add_row("peak RSS children MiB (rusage)", f"{mem['end']['children_mib']:.0f}", "largest child; Linux counts the parent's RSS at spawn in it")
    parts = ", ".join(f"{k.removesuffix('_mib').replace('_', ' ')} {v:.0f}" for k, v in fm.items() if k.endswith("_mib"))
    t.add_row("peak RSS ffmpeg itself MiB", f"{max(v for k, v in fm.items() if k.endswith('_mib')):.0f}", f"{parts} ({fm['rendition']})")
    t.add_row("warm-up CPU-s (once per process)", f"{r['warmup']['cpu_s']:.2f}", "imports (MoviePy, PyAV), font digest")
    con.print(t)

    if len(byr) > 1:
        t = Table(title="Per rendition (mean per video)", title_justify="left")
        for c in ("rendition", "size", "videos", "CPU-s", "Python CPU-s", "ffmpeg CPU-s", "wall-s", "MB", "floor testsrc2", "floor, encoded frames", "x264 all real frames"):
            t.add_column(c, justify="left" if c in ("rendition", "size") else "right")
        for name, b in byr.items():
            pm = b["per_video_mean"]
            t.add_row(name, b["size"], str(b["videos"]), f"{pm['cpu_s']:.2f}", f"{pm['cpu_python_s']:.2f}", f"{pm['cpu_children_s']:.2f}", f"{pm['wall_s']:.2f}", f"{b['video_bytes']['mean'] / 1e6:.2f}", f"{b['x264_floor_testsrc2_cpu_s']:.2f}", f"{b['x264_floor_testsrc2_encoded_frames_cpu_s']:.2f}", f"{b['x264_real_content_cpu_s']:.2f}")
        con.print(t)

    t = Table(title="Personal work per video, by stage (mean)", title_justify="left")
    for c in ("stage", "Python CPU-s", "ffmpeg CPU-s", "CPU-s", "wall-s", "% CPU"):
        t.add_column(c, justify="left" if c == "stage" else "right")
    pm = ov["per_video_mean"]
    for k, v in ov["stages_mean"].items():
        t.add_row(k, f"{v['cpu_python_s']:.3f}", f"{v['cpu_children_s']:.3f}", f"{v['cpu_s']:.3f}", f"{v['wall_s']:.3f}", f"{100 * v['cpu_s'] / pm['cpu_s']:.0f}")
    t.add_row("[bold]total[/]", f"{pm['cpu_python_s']:.3f}", f"{pm['cpu_children_s']:.3f}", f"{pm['cpu_s']:.3f}", f"{pm['wall_s']:.3f}", "100")
    con.print(t)

    t = Table(title="Shared work (once per locale, every rendition)", title_justify="left")
    for c in ("locale", "variant", "segments", "Python CPU-s", "ffmpeg CPU-s", "CPU-s", "wall-s"):
        t.add_column(c, justify="left" if c in ("locale", "variant") else "right")
    for g in s["per_group"]:
        t.add_row(g["locale"], g["variant"] or "-", str(g["segments"]), f"{g['cpu_python_s']:.2f}", f"{g['cpu_children_s']:.2f}", f"{g['cpu_s']:.2f}", f"{g['wall_s']:.2f}")
    a = s["audio_beds"]
    t.add_row("audio bed", "-", "-", f"{a['cpu_python_s']:.2f}", f"{a['cpu_children_s']:.2f}", f"{a['cpu_s']:.2f}", f"{a['wall_s']:.2f}")
    con.print(t)

    if r["git_at_end"] != m["git"]:
        con.print(f"[yellow]warning: the git state changed during the run ({m['git']} → {r['git_at_end']}): rerun on a quiet tree[/]")
    misses = ov["shared_cache_misses"]
    if misses:
        con.print(f"[yellow]warning: {misses} shared segment(s) were cache misses in the personal phase (counted as personal work)[/]")
    if r["unreaped_children"]:
        con.print(f"[yellow]warning: unreaped child processes {r['unreaped_children']}: their CPU is not counted[/]")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=20, help="how many valid sample customers to render (default 20)")
    ap.add_argument("--template", type=Path, default=ROOT / "templates" / "bill-explainer")
    ap.add_argument("--csv", type=Path, default=None, help="customer rows (default: the template's sample-customers.csv)")
    ap.add_argument("--rendition", action="append", default=None, metavar="NAME", help="render only this rendition (repeatable; default: all, as a billing job)")
    ap.add_argument("--threads", type=int, default=1, help="x264 threads per personal scene encode (default 1, as a billing run)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out", help="folder for render-<date>.json (default bench/out)")
    ap.add_argument("--keep", default=None, metavar="DIR", help="copy the rendered videos and posters to DIR")
    ap.add_argument("--quiet", action="store_true", help="no per-video progress lines")
    args = ap.parse_args(argv)
    if args.customers < 1:
        ap.error("--customers must be at least 1")
    args.csv = args.csv or args.template / "sample-customers.csv"

    result = run(args)
    print_tables(result)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.fromisoformat(result["date"]).strftime("%Y-%m-%dT%H%M%SZ")
    path = args.out / f"render-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
