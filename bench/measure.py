"""What both benchmarks measure with, written once: CPU and wall time of a call, peak memory, the machine,
and the few renderer facts a benchmark needs (the sample customers, their locale groups, the frames
x264 really encodes, the audio bed a customer's video mixes).

CPU = user + system time of this process (``RUSAGE_SELF``, all threads) plus that of its waited-for
children (``RUSAGE_CHILDREN``: every ffmpeg). Wall time is ``time.perf_counter``.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]


# --- CPU and wall time ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    wall: float = 0.0
    cpu_self: float = 0.0  # this Python process (all threads)
    cpu_children: float = 0.0  # waited-for child processes (ffmpeg)

    @property
    def cpu(self) -> float:
        return self.cpu_self + self.cpu_children

    def __add__(self, o: Usage) -> Usage:
        return Usage(self.wall + o.wall, self.cpu_self + o.cpu_self, self.cpu_children + o.cpu_children)

    def __sub__(self, o: Usage) -> Usage:
        return Usage(self.wall - o.wall, self.cpu_self - o.cpu_self, self.cpu_children - o.cpu_children)

    def scaled(self, k: float) -> Usage:
        return Usage(self.wall * k, self.cpu_self * k, self.cpu_children * k)

    def to_json(self) -> dict:
        return {"wall_s": round(self.wall, 4), "cpu_s": round(self.cpu, 4), "cpu_python_s": round(self.cpu_self, 4),
                "cpu_children_s": round(self.cpu_children, 4)}


def total(usages) -> Usage:
    return sum(usages, Usage())


def snap() -> Usage:
    """The clock and the CPU counters now; ``since(snap())`` is what happened in between."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Usage(time.perf_counter(), s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime)


def since(t0: Usage) -> Usage:
    return snap() - t0


def measure(fn, *args, **kwargs):
    """(fn's result, Usage of the call)."""
    t0 = snap()
    out = fn(*args, **kwargs)
    return out, since(t0)


def stats(values: list[float]) -> dict:
    v = sorted(values)
    return {
        "n": len(v),
        "mean": statistics.fmean(v),
        "median": statistics.median(v),
        "min": v[0],
        "max": v[-1],
        "p95": v[min(len(v) - 1, max(0, round(0.95 * len(v) + 0.5) - 1))],
        "stdev": statistics.stdev(v) if len(v) > 1 else 0.0,
    }


# --- memory and processes ---------------------------------------------------------------------------


def peak_rss_mib() -> dict:
    """ru_maxrss (KiB on Linux): the peak of this process; of the largest waited-for child so far (which Linux
    charges with this process's RSS at spawn: it does not measure ffmpeg itself)."""
    return {
        "self_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "children_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }


def current_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def unreaped_children() -> list[int]:
    """Child pids still alive or unwaited (their CPU would be missing from RUSAGE_CHILDREN)."""
    pids: list[int] = []
    for task in Path("/proc/self/task").glob("*/children"):
        try:
            pids += [int(p) for p in task.read_text().split()]
        except OSError:
            pass
    return pids


# --- the machine ------------------------------------------------------------------------------------


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def git_state() -> dict:
    """The commit and whether tracked files differ from it: read before and after a run (the tree may change meanwhile)."""
    run = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout  # noqa: E731
    return {"commit": run("rev-parse", "HEAD").strip(), "dirty": bool(run("status", "--porcelain", "--untracked-files=no").strip())}


def machine() -> dict:
    from importlib.metadata import version

    from imageio_ffmpeg import get_ffmpeg_exe as ffmpeg_exe  # the renderer's ffmpeg, without importing the renderer before the warm-up

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "")
    ff = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True).stdout.splitlines()[0].split(" Copyright")[0]
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "moviepy": version("moviepy"),
        "ffmpeg": ff,
        "git": git_state(),
    }


def warn_if_busy(load: list[float], limit: float = 0.5) -> None:
    if load[0] > limit:
        print(f"warning: load average {load[0]:.2f} at start: other processes compete for the CPUs (wall times suffer most)", file=sys.stderr)


# --- what a benchmark renders -----------------------------------------------------------------------


def warm_tailorcast() -> None:
    """What a long-lived worker has paid once: imports (MoviePy, PyAV, the renderer), the fonts digest."""
    import av  # noqa: F401
    import moviepy  # noqa: F401

    import renderer.shared  # noqa: F401
    import renderer.video  # noqa: F401
    from renderer.text import fonts_digest

    fonts_digest()


def load_customers(template_dir: Path, csv: Path, n: int):
    """(template, the first ``n`` valid customers of ``csv``, their contexts); invalid rows are skipped."""
    from tailorcast.context import customer_context
    from tailorcast.customers import Customer, read_customers
    from tailorcast.spec.load import load_template

    template = load_template(template_dir)
    customers = [c for c in read_customers(template, csv) if isinstance(c, Customer)][:n]
    if not customers:
        raise SystemExit(f"no valid customers in {csv}")
    return template, customers, [customer_context(template, c) for c in customers]


def locale_groups(customers, contexts) -> list[tuple[str, str, str | None]]:
    """(locale, strings locale, variant) the customers use, in order of first use: one set of shared scenes each."""
    groups: list[tuple[str, str, str | None]] = []
    for c, ctx in zip(customers, contexts, strict=True):
        g = (c.locale, c.strings_locale, ctx.get("variant") or None)
        if g not in groups:
            groups.append(g)
    return groups


def audio_bed_key(template, ctx, rendition: str | None = None) -> tuple[float, tuple]:
    """(duration, sound effects) of the audio bed render_video mixes for this customer, without rendering:
    the cache key of one ``renderer.video.audio_bed``."""
    from renderer.scenes import played_scenes
    from renderer.video import scene_sounds

    fps = template.video.fps
    ids = set(played_scenes(template, ctx, rendition))
    played = [SimpleNamespace(scene=s, duration=round(s.duration * fps) / fps) for s in template.scenes if s.id in ids]
    return round(sum(p.duration for p in played) * fps) / fps, scene_sounds(played)


def x264_frames(rs) -> int:
    """Frames of a personal scene that x264 encodes (renderer.encode appends the held rest as skip frames)."""
    from renderer.encode import HELD_TAIL, MIN_SAVED, last_change

    encoded = last_change(rs) + HELD_TAIL
    return rs.frames if rs.frames - encoded < MIN_SAVED else encoded


def ffmpeg_command(stream) -> list[str]:
    """An ffmpeg-python graph as the argument list the renderer would run (its ffmpeg, quiet, overwriting)."""
    from renderer.encode import ffmpeg_exe

    return stream.global_args("-nostdin", "-loglevel", "error").overwrite_output().compile(cmd=ffmpeg_exe())


def testsrc(width: int, height: int, fps: int) -> str:
    """lavfi's synthetic moving picture: the source of the x264 floor."""
    return f"testsrc2=s={width}x{height}:r={fps}"
