"""What a billing run costs as a user runs it: ``tailorcast run`` (Ray included) publishing to S3 (moto over HTTP).

    .venv/bin/python bench/bench_run.py                                  # 1,000 and 10,000 unbaked, 20 and 100 baked
    .venv/bin/python bench/bench_run.py --unbaked 1000,10000 --baked 50,500
    .venv/bin/python bench/bench_run.py --unbaked 100,400 --baked 5,15 --fixed-cost-before b21f0ed~1   # quicker
    .venv/bin/python bench/bench_run.py --out folder --unbaked 300,1500 --baked 5,15   # into a local folder

For each size it generates that many bill-explainer customers (deterministic, five locales), starts
``tailorcast run`` as a subprocess into ``s3://bench/…`` on a moto server of its own (a separate
process, so the bucket's CPU is not the run's), or with ``--out folder`` into a local folder, and measures:

- the run's CPU: user + system of ``tailorcast run`` and of every process it started (Ray's GCS, raylet,
  agents and workers, every ffmpeg), read from /proc every 0.5 s (:class:`TreeWatch`); and the
  machine's CPU from /proc/stat over the same time (it includes whatever else the machine did);
- wall time, customers per second, the jobs' own CPU (the manifest's ``cpu_seconds``), bytes uploaded
  (the bucket's objects), peak RSS of the driver and of Ray's worker processes (/proc, every 0.5 s).

Fixed costs (Ray start, shared scenes, base videos) cancel in the *marginal* figures, taken between
two sizes of one kind measured in this run: marginal CPU per customer = ΔCPU / Δcustomers. The
unbaked/baked ratio and Ray's overhead (marginal run CPU against the jobs' own CPU) use them.

``--fixed-cost-before REV`` also measures one locale's shared scenes (``render_shared_scenes``, two
renditions) in a git worktree at REV and in this tree, each in a fresh process and cache.
Results go to ``bench/out/run-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

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
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
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
    run_cpu = max(sum(watch.cpu.values()), usage.ru_utime + usage.ru_stime)
    result = {
        "kind": kind, "customers": n, "ok": len(ok), "wall_s": round(wall, 2), "customers_per_s": round(n / wall, 3),
        "run_cpu_s": round(run_cpu, 2), "driver_wait4_cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "run_cpu_per_customer_s": round(run_cpu / n, 4), "machine_cpu_s": round(machine_s, 2),
        "out": "s3 (moto)" if endpoint else "folder", "moto_cpu_s": round(_stat(moto.pid)[1] - moto_cpu0, 2) if moto else None, "jobs_cpu_s": round(sum(jobs), 2),
        "job_cpu_per_customer": {"mean": round(statistics.mean(jobs), 4), "median": round(statistics.median(jobs), 4)} if jobs else {},
        "driver_peak_rss_mib": round(watch.driver_kib / 1024, 1), "driver_maxrss_wait4_mib": round(usage.ru_maxrss / 1024, 1),
        "worker_peak_rss_mib": round(max(watch.worker_kib.values(), default=0) / 1024, 1), "worker_processes": len(watch.worker_kib),
        "workers_peak_sum_rss_mib": round(watch.workers_sum_kib / 1024, 1),
        "ray_system_peak_rss_mib": round(sum(watch.system_kib.values()) / 1024, 1),
        **stored, "bytes_per_customer": round(stored["c_bytes"] / max(len(ok), 1)), "objects_per_customer": round(stored["c_objects"] / max(len(ok), 1), 2),
        "load_before": load0, "load_after": loadavg(),
    }
    print(json.dumps(result), flush=True)
    shutil.rmtree(folder, ignore_errors=True)
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


def fixed_cost(before: str, work: Path, locale: str = "it") -> dict:
    """One locale's shared scenes, two renditions, at git revision ``before`` and in this tree: CPU-s, fresh processes."""
    tree = work / "before"
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), before], cwd=ROOT, check=True, capture_output=True)
    try:
        out = {}
        for name, root in (("before", tree), ("after", ROOT)):
            env = {**os.environ, "PYTHONPATH": str(root)}
            line = subprocess.run([sys.executable, "-c", SHARED_COST, str(root / "templates" / "bill-explainer"), locale], cwd=root, env=env,
                                  check=True, capture_output=True, text=True).stdout.split()
            out[name] = {"cpu_s": round(float(line[0]), 2), "python_cpu_s": round(float(line[1]), 2), "wall_s": round(float(line[2]), 2), "segments": int(line[3])}
            print(name, out[name], flush=True)
        out["ratio_before_over_after"] = round(out["before"]["cpu_s"] / out["after"]["cpu_s"], 2)
        out["before_rev"] = subprocess.run(["git", "rev-parse", before], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return out
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unbaked", default="1000,10000", help="sizes, comma-separated (customers with video.bake: false); marginal figures "
                    "between the first and the last")
    ap.add_argument("--baked", default="25,100", help="sizes of baked runs (the issue's full size: 500); multiples of 5 (five locales)")
    ap.add_argument("--out", choices=["s3", "folder"], default="s3", help="publish to moto over HTTP (default) or to a local folder")
    ap.add_argument("--fixed-cost-before", default=None, metavar="REV", help="also measure one locale's shared scenes at REV and here")
    args = ap.parse_args()
    sizes = {"unbaked": [int(x) for x in args.unbaked.split(",") if x], "baked": [int(x) for x in args.baked.split(",") if x]}
    started = datetime.now(timezone.utc)
    report = {"started": started.isoformat(timespec="seconds"), "machine": machine(), "load_before": loadavg(), "runs": [], "marginal": {}}
    print(f"bench_run {started:%Y-%m-%d %H:%M} UTC on {report['machine']['cpu_model']} ({report['machine']['cpus']} CPUs), load {report['load_before']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="tc-bench-run-") as tmp:
        work = Path(tmp)
        if args.fixed_cost_before:
            report["fixed_cost"] = fixed_cost(args.fixed_cost_before, work)
        moto, endpoint = start_moto() if args.out == "s3" else (None, None)
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
    for kind in ("unbaked", "baked"):
        runs = [r for r in report["runs"] if r["kind"] == kind]
        if len(runs) >= 2:
            report["marginal"][kind] = marginal(runs[0], runs[-1])
    if len(report["marginal"]) == 2:
        u, b = report["marginal"]["unbaked"], report["marginal"]["baked"]
        report["unbaked_over_baked_cpu"] = round(u["run_cpu_per_customer_s"] / b["run_cpu_per_customer_s"], 5)
        report["baked_over_unbaked_cpu"] = round(b["run_cpu_per_customer_s"] / u["run_cpu_per_customer_s"], 1)
        report["unbaked_over_baked_throughput"] = round(u["customers_per_s"] / b["customers_per_s"], 1)
    report["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report["load_after"], report["git_after"] = loadavg(), git_state()
    out = ROOT / "bench" / "out" / f"run-{started:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: report[k] for k in report if k not in ("runs", "machine")}, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
