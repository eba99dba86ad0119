"""What a billing run costs as a user runs it: ``tailorcast run`` (Ray included) publishing to S3 (moto over HTTP).

    .venv/bin/python bench/bench_run.py                                  # 1,000 and 10,000 unbaked, 25 and 100 baked
    .venv/bin/python bench/bench_run.py --out both --baked 50,500 --unbaked ""   # the issue's 500 baked: moto, then a folder
    .venv/bin/python bench/bench_run.py --unbaked 100,400 --baked 5,15 --fixed-cost-before b21f0ed~1   # quicker
    .venv/bin/python bench/bench_run.py --out folder --unbaked 300,1500 --baked 5,15   # into a local folder
    .venv/bin/python bench/bench_run.py --baked "" --unbaked "" --fixed-cost-before b21f0ed~1   # a locale's shared scenes only

For each size it generates that many bill-explainer customers (deterministic, five locales), starts
``tailorcast run`` as a subprocess into ``s3://bench/…`` on a moto server of its own (a separate
process, so the bucket's CPU is not the run's), or with ``--out folder`` into a local folder, and measures:

- the run's CPU: user + system of ``tailorcast run`` and of every process it started (Ray's GCS, raylet,
  agents and workers, every ffmpeg), counted exactly by a cgroup of the run's own when this user may make
  one (bench/cpuacct.py: root with cgroup v1 cpuacct or v2), else read from /proc every 0.5 s
  (:class:`TreeWatch`, which loses processes that end unseen: on a loaded machine it once counted 108 of a
  run's 324 CPU-s; the report names its source and keeps the sampled figure); and the
  machine's CPU from /proc/stat over the same time (it includes whatever else the machine did);
- wall time, customers per second, the jobs' own CPU (the manifest's ``cpu_seconds``), bytes uploaded
  (the bucket's objects), peak RSS of the driver and of Ray's worker processes (/proc, every 0.5 s).

Fixed costs (Ray start, shared scenes, base videos) cancel in the *marginal* figures, taken between
two sizes of one kind measured in this run: marginal CPU per customer = ΔCPU / Δcustomers. The
unbaked/baked ratio and Ray's overhead (marginal run CPU against the jobs' own CPU) use them.

``--fixed-cost-before REV[,REV…]`` also measures one locale's shared scenes (``render_shared_scenes``, two
renditions) in a git worktree at each REV and in this tree, each in a fresh process and cache, ``--repeat``
times in turn (the ratio is taken in each round: the load moves between rounds, hardly within one); then,
once per tree, each shared segment on its own (Python and ffmpeg CPU, bytes) and its picture against
Pillow's reference frames of this tree (``ResolvedScene.frame``: SSIM and PSNR from ffmpeg's filters).
``--baked "" --unbaked ""`` measures only that. Results go to ``bench/out/run-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from cpuacct import CpuGroup
from measure import ROOT, git_state, loadavg, machine

from tailorcast import keys

TEMPLATE = ROOT / "templates" / "bill-explainer"
TAILORCAST = ROOT / ".venv" / "bin" / "tailorcast"
TICK = os.sysconf("SC_CLK_TCK")
SECRET = "bench-secret-" + "x" * 40
MOTO = """
import sys, time
from moto.server import ThreadedMotoServer
s = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
s.start()
print("%s:%s" % s.get_host_and_port(), flush=True)
while True:
    time.sleep(3600)
"""
SHARED_COST = """
import resource, sys, tempfile, time
from pathlib import Path
from tailorcast.spec.load import load_template
from renderer.shared import render_shared_scenes
t = load_template(Path(sys.argv[1]))
with tempfile.TemporaryDirectory() as cache:
    r0, c0, w0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    out = render_shared_scenes(t, sys.argv[2], sys.argv[2], None, cache)
    r1, c1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = lambda r: r.ru_utime + r.ru_stime
print(cpu(r1) - cpu(r0) + cpu(c1) - cpu(c0), cpu(r1) - cpu(r0), time.perf_counter() - w0, len(out))
"""
SHARED_SEGMENTS = """
import json, resource, sys, tempfile
from pathlib import Path
from tailorcast.context import locale_context
from tailorcast.spec.load import load_template
from renderer.cache import SegmentCache
from renderer.encode import profile_key
from renderer.profiles import encoder_profile
from renderer.scenes import resolve_scene
from renderer.video import segment
def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime
t, out = load_template(Path(sys.argv[1])), Path(sys.argv[3])
ctx = locale_context(t, sys.argv[2], sys.argv[2], None)
pk = profile_key(encoder_profile(t.video), t.video.fps)
with tempfile.TemporaryDirectory() as d:
    cache = SegmentCache(d)
    for r in t.video.renditions:
        for scene in t.scenes:
            if not scene.shared:
                continue
            a = cpu()
            rs = resolve_scene(t, scene, ctx, pk, r.name)
            if rs is None:
                continue
            b = cpu()
            path, _ = segment(rs, t, cache, threads=1)
            c = cpu()
            (out / f"{r.name}-{scene.id}.mp4").write_bytes(path.read_bytes())
            print(json.dumps({"rendition": r.name, "scene": scene.id, "clip": bool(rs.background_video), "frames": rs.frames,
                              "python_resolve_s": round(b[0] - a[0], 3), "python_encode_s": round(c[0] - b[0], 3),
                              "ffmpeg_s": round(c[1] - b[1], 3), "bytes": path.stat().st_size}), flush=True)
"""


# --- customers and templates -------------------------------------------------------------------------


def write_customers(n: int, path: Path) -> Path:
    """``n`` valid bill-explainer customers, the sample script's rows, locales in turn."""
    spec = importlib.util.spec_from_file_location("make_sample_customers", TEMPLATE / "make_sample_customers.py")
    mk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mk)
    from tailorcast.customers import write_customers as write

    rng = random.Random(20261126)
    locales = ("it", "fr", "tr", "id", "en")
    rows = [mk.good_row(i + 1, locales[i % 5], *mk.NAMES[locales[i % 5]][(i // 5) % 10], rng) for i in range(n)]
    write(path, mk.COLUMNS, rows)
    return path


def unbaked_template(work: Path) -> Path:
    """A copy of the bill-explainer with ``video.bake: false``."""
    dst = work / "bill-explainer-unbaked"
    if not dst.exists():
        shutil.copytree(TEMPLATE, dst, ignore=shutil.ignore_patterns("*.csv", "__pycache__", "*.py"))
        yaml = (dst / "template.yaml").read_text()
        assert "  default_rendition: portrait\n" in yaml
        (dst / "template.yaml").write_text(yaml.replace("  default_rendition: portrait\n", "  default_rendition: portrait\n  bake: false\n", 1))
    return dst


# --- processes -----------------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own user + system seconds, waited-for children's user + system seconds) of a live process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK, (int(fields[13]) + int(fields[14])) / TICK


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine since boot (/proc/stat: everything but idle and iowait)."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(parts) - parts[3] - parts[4]) / TICK


class TreeWatch(threading.Thread):
    """CPU and peak RSS of a process tree every 0.5 s: the driver, each Ray worker process (``ray::…``), Ray's own.

    Ray's raylet is killed, not waited for, at shutdown, so ``wait4`` on the driver misses the workers' CPU.
    The CPU is the last reading of every process of the tree: its own time, plus, for Ray's workers, the
    time of the children they waited for (every ffmpeg); a process loses at most its last 0.5 s.
    """

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.stop = root, threading.Event()
        self.driver_kib = 0
        self.worker_kib: dict[int, int] = {}  # pid → VmHWM
        self.workers_sum_kib = 0  # largest sum of the workers' RSS at one moment
        self.system_kib: dict[int, int] = {}  # raylet, gcs, agents
        self.cpu: dict[int, float] = {}  # pid → last CPU reading

    def run(self) -> None:
        while not self.stop.wait(0.5):
            stats = {}
            for entry in os.listdir("/proc"):
                if entry.isdigit() and (st := _stat(int(entry))):
                    stats[int(entry)] = st
            parents = {pid: st[0] for pid, st in stats.items()}
            tree, frontier = {self.root}, [self.root]
            while frontier:
                p = frontier.pop()
                for child, parent in parents.items():
                    if parent == p and child not in tree:
                        tree.add(child)
                        frontier.append(child)
            self.driver_kib = max(self.driver_kib, _status_kib(self.root, "VmHWM"))
            if self.root in stats:
                self.cpu[self.root] = stats[self.root][1]
            now_sum = 0
            for pid in tree - {self.root}:
                cmd = _cmdline(pid)
                if pid in stats and "ffmpeg" not in cmd:  # an ffmpeg is counted by the worker that waits for it
                    self.cpu[pid] = stats[pid][1] + (stats[pid][2] if cmd.startswith("ray::") else 0.0)
                if cmd.startswith("ray::"):
                    self.worker_kib[pid] = max(self.worker_kib.get(pid, 0), _status_kib(pid, "VmHWM"))
                    now_sum += _status_kib(pid, "VmRSS")
                elif "ffmpeg" not in cmd:
                    self.system_kib[pid] = max(self.system_kib.get(pid, 0), _status_kib(pid, "VmHWM"))
            self.workers_sum_kib = max(self.workers_sum_kib, now_sum)


def start_moto() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", MOTO], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # no request log
    return proc, "http://" + proc.stdout.readline().strip()


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench")


def bucket_bytes(s3, prefix: str) -> dict[str, int]:
    """Bytes and objects under ``prefix``, split into customers' folders (c/) and shared objects (shared/)."""
    out = {"c_bytes": 0, "c_objects": 0, "shared_bytes": 0, "shared_objects": 0}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"][len(prefix):]
            kind = next((k.rstrip("/") for k in keys.PUBLIC_PREFIXES if key.startswith(k)), None)  # c/ or shared/
            if kind:
                out[f"{kind}_bytes"] += obj["Size"]
                out[f"{kind}_objects"] += 1
    return out


def folder_bytes(root: Path) -> dict[str, int]:
    """Bytes and files of a published folder, split into customers' folders (c/) and shared objects (shared/)."""
    out = {"c_bytes": 0, "c_objects": 0, "shared_bytes": 0, "shared_objects": 0}
    for kind in (k.rstrip("/") for k in keys.PUBLIC_PREFIXES):  # c, shared
        for p in (root / kind).rglob("*"):
            if p.is_file():
                out[f"{kind}_bytes"] += p.stat().st_size
                out[f"{kind}_objects"] += 1
    return out


def run_once(kind: str, n: int, work: Path, endpoint: str | None, moto: subprocess.Popen | None) -> dict:
    """One ``tailorcast run`` of ``n`` customers (``kind``: baked | unbaked) into its own prefix (or folder), fresh state."""
    template = unbaked_template(work) if kind == "unbaked" else TEMPLATE
    customers = write_customers(n, work / f"customers-{n}.csv")
    state = work / f"state-{kind}-{n}"
    shutil.rmtree(state, ignore_errors=True)
    prefix, run_id = f"{kind}-{n}/", f"bench-{kind}-{n}"
    env = {**os.environ, "TAILORCAST_SECRET": SECRET, "RAY_AUTH_MODE": "disabled", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    folder = work / f"out-{kind}-{n}"
    out_args = ["--out", f"s3://bench/{prefix.rstrip('/')}", "--endpoint-url", endpoint] if endpoint else ["--out", str(folder)]
    args = [str(TAILORCAST), "run", str(template), "--customers", str(customers), *out_args, "--state", str(state), "--run-id", run_id, "--quiet"]
    moto_cpu0 = _stat(moto.pid)[1] if moto else 0.0
    load0, m0, w0 = loadavg(), machine_cpu(), time.perf_counter()
    group = CpuGroup.create("tc-bench-run")  # exact CPU of the whole tree when cgroups are writable (root)
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=group.enter if group else None)
    watch = TreeWatch(proc.pid)
    watch.start()
    out = io.BytesIO()
    drain = threading.Thread(target=lambda: out.write(proc.stderr.read()), daemon=True)
    drain.start()
    proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall, machine_s = time.perf_counter() - w0, machine_cpu() - m0
    watch.stop.set()
    watch.join()
    drain.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"tailorcast run exited with {proc.returncode}:\n{out.getvalue().decode(errors='replace')[-3000:]}")
    if endpoint:
        s3 = s3_client(endpoint)
        body = s3.get_object(Bucket="bench", Key=prefix + keys.run_file(run_id, "manifest.csv"))["Body"].read().decode()
        stored = bucket_bytes(s3, prefix)
        s3.close()
    else:
        body = (folder / keys.run_file(run_id, "manifest.csv")).read_text()
        stored = folder_bytes(folder)
    manifest = list(csv.DictReader(io.StringIO(body)))
    ok = [r for r in manifest if r["status"] == "ok"]
    jobs = [float(r["cpu_seconds"]) for r in ok]
    sampled = max(sum(watch.cpu.values()), usage.ru_utime + usage.ru_stime)
    run_cpu = sampled
    if group:
        run_cpu = group.close()  # once Ray's daemons are gone too
    result = {
        "kind": kind, "customers": n, "ok": len(ok), "wall_s": round(wall, 2), "customers_per_s": round(n / wall, 3),
        "run_cpu_s": round(run_cpu, 2), "driver_wait4_cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "run_cpu_per_customer_s": round(run_cpu / n, 4), "machine_cpu_s": round(machine_s, 2),
        "out": OUT_NAMES["s3" if endpoint else "folder"], "moto_cpu_s": round(_stat(moto.pid)[1] - moto_cpu0, 2) if moto else None, "jobs_cpu_s": round(sum(jobs), 2),
        "job_cpu_per_customer": {"mean": round(statistics.mean(jobs), 4), "median": round(statistics.median(jobs), 4)} if jobs else {},
        "driver_peak_rss_mib": round(watch.driver_kib / 1024, 1), "driver_maxrss_wait4_mib": round(usage.ru_maxrss / 1024, 1),
        "worker_peak_rss_mib": round(max(watch.worker_kib.values(), default=0) / 1024, 1), "worker_processes": len(watch.worker_kib),
        "workers_peak_sum_rss_mib": round(watch.workers_sum_kib / 1024, 1),
        "ray_system_peak_rss_mib": round(sum(watch.system_kib.values()) / 1024, 1),
        **stored, "bytes_per_customer": round(stored["c_bytes"] / max(len(ok), 1)), "objects_per_customer": round(stored["c_objects"] / max(len(ok), 1), 2),
        "load_before": load0, "load_after": loadavg(),
        "run_cpu_source": f"cgroup v{group.version}" if group else "/proc samples", "run_cpu_sampled_s": round(sampled, 2),
    }
    if run_cpu < sum(jobs):  # the jobs' CPU is part of the run's: the /proc sampling lost processes
        result["run_cpu_undercounted"] = True
        print(f"warning: {kind} {n}: run CPU {run_cpu:.1f} s is below the jobs' own {sum(jobs):.1f} s; run this size again", file=sys.stderr, flush=True)
    print(json.dumps(result), flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(state, ignore_errors=True)  # its segment cache: a 500-customer baked run leaves hundreds of MB
    return result


def marginal(small: dict, large: dict) -> dict:
    dn = large["customers"] - small["customers"]
    run = (large["run_cpu_s"] - small["run_cpu_s"]) / dn
    jobs = (large["jobs_cpu_s"] - small["jobs_cpu_s"]) / dn
    return {"between": [small["customers"], large["customers"]], "run_cpu_per_customer_s": round(run, 4),
            "jobs_cpu_per_customer_s": round(jobs, 4), "ray_and_run_overhead": round(run / jobs - 1, 4) if jobs else None,
            "machine_cpu_per_customer_s": round((large["machine_cpu_s"] - small["machine_cpu_s"]) / dn, 4),
            "customers_per_s": round(dn / (large["wall_s"] - small["wall_s"]), 3),
            "driver_peak_rss_ratio": round(large["driver_maxrss_wait4_mib"] / small["driver_maxrss_wait4_mib"], 3)}


def _shared_cost(root: Path, locale: str) -> dict:
    """``render_shared_scenes`` for one locale in the tree at ``root``: a fresh process and cache."""
    line = subprocess.run([sys.executable, "-c", SHARED_COST, str(root / "templates" / "bill-explainer"), locale], cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, check=True, capture_output=True, text=True).stdout.split()
    return {"cpu_s": round(float(line[0]), 2), "python_cpu_s": round(float(line[1]), 2), "wall_s": round(float(line[2]), 2), "segments": int(line[3])}


def _shared_segments(root: Path, locale: str, out: Path) -> list[dict]:
    """Each shared segment of one locale on its own in the tree at ``root`` (CPU, bytes), written to ``out``."""
    out.mkdir(parents=True)
    lines = subprocess.run([sys.executable, "-c", SHARED_SEGMENTS, str(root / "templates" / "bill-explainer"), locale, str(out)], cwd=root,
                           env={**os.environ, "PYTHONPATH": str(root)}, check=True, capture_output=True, text=True).stdout.splitlines()
    return [json.loads(x) for x in lines]


def _references(work: Path, locale: str) -> dict[str, tuple[Path, int, int]]:
    """Pillow's frames (``ResolvedScene.frame``, this tree) of each shared segment, raw RGB: {name: (file, width, height)}."""
    from renderer.shared import shared_scenes
    from tailorcast.spec.load import load_template

    out = {}
    for rendition, scene_id, rs in shared_scenes(load_template(TEMPLATE), locale, locale, None):
        path = work / f"reference-{rendition}-{scene_id}.rgb"
        with path.open("wb") as fh:
            for n in range(rs.frames):
                fh.write(rs.frame(n).tobytes())
        out[f"{rendition}-{scene_id}"] = (path, rs.width, rs.height)
    return out


def picture_quality(segment: Path, reference: Path, width: int, height: int, fps: int = 30) -> dict:
    """SSIM and PSNR (ffmpeg's filters, all frames, every plane) of ``segment`` against raw RGB frames converted as the renderer does."""
    from renderer.encode import ffmpeg_exe

    graph = ("[1:v]scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,split[r1][r2];"
             "[0:v]format=yuv420p,split[a1][a2];[a1][r1]ssim;[a2][r2]psnr")
    err = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(segment), "-f", "rawvideo", "-pix_fmt", "rgb24",
                          "-s", f"{width}x{height}", "-framerate", str(fps), "-i", str(reference), "-lavfi", graph, "-f", "null", "-"],
                         capture_output=True, text=True, check=True).stderr
    ssim = re.search(r"SSIM Y:([0-9.]+).*All:([0-9.]+)", err)
    psnr = re.search(r"PSNR y:([0-9.inf]+).*average:([0-9.inf]+)", err)
    return {"ssim_y": float(ssim.group(1)), "ssim_all": float(ssim.group(2)), "psnr_y_db": float(psnr.group(1)), "psnr_db": float(psnr.group(2))}


def fixed_cost(befores: list[str], work: Path, repeat: int = 3, locale: str = "it") -> dict:
    """One locale's shared scenes, two renditions, at each git revision of ``befores`` and in this tree.

    ``repeat`` rounds, each tree once per round in a fresh process (ratios per round), then each tree's
    segments one by one with their picture against Pillow's reference frames."""
    trees = {}
    for i, rev in enumerate(befores):
        tree = work / f"before-{i}"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), rev], cwd=ROOT, check=True, capture_output=True)
        trees[rev] = tree
    trees["this tree"] = ROOT
    try:
        out = {"locale": locale, "revs": {rev: subprocess.run(["git", "rev-parse", rev], cwd=ROOT, capture_output=True, text=True).stdout.strip()
                                          for rev in befores}, "rounds": []}
        for k in range(repeat):
            one = {"load_before": loadavg()}
            for name, root in trees.items():
                one[name] = _shared_cost(root, locale)
                print(f"round {k + 1}: {name}", one[name], flush=True)
            one["ratios_over_this_tree"] = {rev: round(one[rev]["cpu_s"] / one["this tree"]["cpu_s"], 2) for rev in befores}
            out["rounds"].append(one)
            print(f"round {k + 1}: before/after", one["ratios_over_this_tree"], "load", one["load_before"], flush=True)
        out["median_cpu_s"] = {name: statistics.median(r[name]["cpu_s"] for r in out["rounds"]) for name in trees}
        out["median_ratio_over_this_tree"] = {rev: statistics.median(r["ratios_over_this_tree"][rev] for r in out["rounds"]) for rev in befores}
        refs = _references(work, locale)
        out["segments"] = {}
        for i, (name, root) in enumerate(trees.items()):
            rows = _shared_segments(root, locale, work / f"segments-{i}")
            for row in rows:
                seg = f"{row['rendition']}-{row['scene']}"
                if seg in refs:
                    row.update(picture_quality(work / f"segments-{i}" / f"{seg}.mp4", *refs[seg]))
                print(name, row, flush=True)
            out["segments"][name] = rows
        for path, _w, _h in refs.values():
            path.unlink()
        return out
    finally:
        for tree in trees.values():
            if tree != ROOT:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)


OUT_NAMES = {"s3": "s3 (moto)", "folder": "folder"}  # a run's "out"


def summary(runs: list[dict]) -> dict:
    """Marginal figures per kind (first size → last) and unbaked against baked, for the runs of one destination."""
    out = {"marginal": {}}
    for kind in ("unbaked", "baked"):
        these = [r for r in runs if r["kind"] == kind]
        if len(these) >= 2:
            out["marginal"][kind] = marginal(these[0], these[-1])
    if len(out["marginal"]) == 2:
        u, b = out["marginal"]["unbaked"], out["marginal"]["baked"]
        out["unbaked_over_baked_cpu"] = round(u["run_cpu_per_customer_s"] / b["run_cpu_per_customer_s"], 5)
        out["baked_over_unbaked_cpu"] = round(b["run_cpu_per_customer_s"] / u["run_cpu_per_customer_s"], 1)
        out["unbaked_over_baked_throughput"] = round(u["customers_per_s"] / b["customers_per_s"], 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unbaked", default="1000,10000", help="sizes, comma-separated (customers with video.bake: false); marginal figures "
                    "between the first and the last")
    ap.add_argument("--baked", default="25,100", help="sizes of baked runs (the issue's full size: 500); multiples of 5 (five locales)")
    ap.add_argument("--out", choices=["s3", "folder", "both"], default="s3", help="publish to moto over HTTP (default), to a local folder, "
                    "or both (every size into moto, then every size into a folder)")
    ap.add_argument("--fixed-cost-before", default=None, metavar="REV[,REV…]", help="also measure one locale's shared scenes at each REV "
                    "(b21f0ed~1: MoviePy for the clip scene) and here")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the fixed-cost measurement (default 3)")
    args = ap.parse_args()
    sizes = {"unbaked": [int(x) for x in args.unbaked.split(",") if x], "baked": [int(x) for x in args.baked.split(",") if x]}
    outs = ["s3", "folder"] if args.out == "both" else [args.out]
    started = datetime.now(timezone.utc)
    report = {"started": started.isoformat(timespec="seconds"), "machine": machine(), "load_before": loadavg(), "runs": []}
    print(f"bench_run {started:%Y-%m-%d %H:%M} UTC on {report['machine']['cpu_model']} ({report['machine']['cpus']} CPUs), load {report['load_before']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="tc-bench-run-") as tmp:
        work = Path(tmp)
        if args.fixed_cost_before:
            report["fixed_cost"] = fixed_cost([r for r in args.fixed_cost_before.split(",") if r], work, args.repeat)
        for where in outs if any(sizes.values()) else ():
            moto, endpoint = start_moto() if where == "s3" else (None, None)
            try:
                if moto:
                    s3_client(endpoint).create_bucket(Bucket="bench")
                for kind in ("baked", "unbaked"):  # the long unbaked runs last: each run's line is printed as it ends
                    for n in sizes[kind]:
                        report["runs"].append(run_once(kind, n, work, endpoint, moto))
            finally:
                if moto:
                    moto.terminate()
                    moto.wait()
    by_out = {where: summary([r for r in report["runs"] if r["out"] == OUT_NAMES[where]]) for where in outs}
    if len(outs) == 1:
        report.update(by_out[outs[0]])
    else:
        report["by_out"] = by_out
    report["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report["load_after"], report["git_after"] = loadavg(), git_state()
    out = ROOT / "bench" / "out" / f"run-{started:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: report[k] for k in report if k not in ("runs", "machine", "fixed_cost")}, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
