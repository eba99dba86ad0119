"""How customers should reach Ray's workers: one task each, tasks over batches, an actor pool, or Ray Data.

The same customers of a tiny template (96x64, 1.4 s, baked: about 0.1 CPU-s a customer, so the
fan-out's own cost is as visible as it will ever be; a real baked video costs 20 times more)
go through the real customer job (workers.job.render_customer) four ways, on one local Ray
instance, one after the other, each into a fresh folder:

  task-per-customer   one Ray task per customer, the run context a top-level ObjectRef (resolved
                      and unpickled for every task): what Tailorcast did before issue 11
  batched-tasks       one task per batch (workers.batches.render_batch), the run context a Shared
                      handle unpickled once per worker process: what a run does now
  actor-pool          ray.util.ActorPool of one actor per CPU holding the run context; one call
                      per customer
  ray-data            ray.data.from_items(...).map_batches(a class holding the run context)

For each: wall time; the CPU of the whole Ray instance (the driver's rusage plus user + system time,
own and waited-for children, of every process of the instance's session in /proc: raylet, GCS,
agents, workers and their ffmpeg), which other users of a shared machine do not inflate; the
machine-wide CPU (/proc/stat), which they do; the jobs' own CPU (each job's RUSAGE_SELF +
RUSAGE_CHILDREN delta); the overhead ratio Ray CPU / jobs' CPU - 1; and the tasks the head had
to track. Ray's idle background (raylet, GCS, agents, and this script's own /proc sampling) is measured
for 15 s first and reported as ``idle_cpu_per_s``; ``fanout_overhead`` is the overhead without it,
(Ray CPU - idle rate x wall - jobs' CPU) / jobs' CPU: what the way of fanning out costs. The load average
before each approach is recorded; compare only ratios of one run.

    .venv/bin/python bench/bench_fanout.py --customers 400
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from measure import loadavg, machine  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"


def machine_cpu() -> float:
    """CPU seconds used by every process on the machine so far (user + nice + system + irq + softirq + steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class RayCpu:
    """CPU seconds of the driver and of the Ray instance's processes (with their waited-for children), sampled every
    0.1 s so a process that exits (an idle worker Ray ends, a killed actor) keeps what it used until its last sample."""

    def __init__(self, session_dir: str) -> None:
        import threading

        self.session_dir = session_dir
        self.seen: dict[tuple[int, str], float] = {}
        self._stop = threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            self.sample()

    def sample(self) -> None:
        from workers.local_ray import instance_processes

        for pid in instance_processes(self.session_dir):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            self.seen[(pid, fields[19])] = sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime..cstime; key: pid, start

    def now(self) -> float:
        import resource

        self.sample()
        me = resource.getrusage(resource.RUSAGE_SELF)
        return me.ru_utime + me.ru_stime + sum(self.seen.values())

    def stop(self) -> None:
        self._stop.set()


def prepare(folder: Path, n: int):
    from helpers.driver import tiny_customers
    from tailorcast.customers import Customer, read_customers
    from tailorcast.spec.load import load_template

    template_dir, csv = tiny_customers(folder, n)
    template = load_template(template_dir)
    customers = [c for c in read_customers(template, csv) if isinstance(c, Customer)]
    return template, customers


def run_context(template, out: Path, cache: Path, run_id: str):
    from microsite.build import shared_files
    from tailorcast.bucket import LocalBucket
    from workers.job import RunContext, run_inputs

    bucket = LocalBucket(out)
    media = {}
    for name, f in shared_files(template).items():
        bucket.put_bytes(f.key, f.data)
        media[name] = f.key
    return RunContext(template, run_id, bucket, str(cache), media, 1, b"k" * 32, False, run_inputs(media))


class Noop:
    """A job that does nothing but see the run context and the customer: what the fan-out alone costs."""

    status, cpu_seconds, error = "ok", 0.0, ""

    def __init__(self, run, customer) -> None:
        self.row = customer.row if run.template.name else 0


def one(run, customer, token, noop: bool = False):
    if noop:
        return Noop(run, customer)
    from workers.job import render_customer

    return render_customer(run, customer, token)


def noop_batch(run, batch, shared):
    """render_batch's shape (the run context from the process cache, then each customer) with the Noop job."""
    ctx = run.value()
    return [Noop(ctx, item.customer) for item in batch.items]


def approaches(ray, template, customers, shared, folder: Path, cpus: int, noop: bool, idle: float) -> dict:
    from ray.util import ActorPool

    from workers.batches import Batch, Item, Shared, batch_size, render_batch

    results = {}
    meter = RayCpu(ray._private.worker._global_node.get_session_dir_path())

    def measure(name: str, fn) -> None:
        run = run_context(template, folder / name / "pub", folder / "cache", f"bench-{name}")
        load = loadavg()
        c0, r0, t0 = machine_cpu(), meter.now(), time.perf_counter()
        out, tasks, ended = fn(run)
        wall, cpu, rcpu = time.perf_counter() - t0, machine_cpu() - c0, ended - r0
        jobs = sum(r.cpu_seconds for r in out)
        assert len(out) == len(customers) and all(r.status == "ok" for r in out), [r.error for r in out if r.status != "ok"][:3]
        results[name] = {"wall_s": round(wall, 2), "ray_cpu_s": round(rcpu, 2), "machine_cpu_s": round(cpu, 2), "jobs_cpu_s": round(jobs, 2),
                         "fanout_cpu_per_customer_ms": round(1000 * (rcpu - idle * wall - jobs) / len(out), 2),
                         "customers_per_s": round(len(out) / wall, 2), "tasks": tasks, "loadavg_before": load}
        if jobs:
            results[name].update(overhead=round(rcpu / jobs - 1, 3), fanout_overhead=round((rcpu - idle * wall - jobs) / jobs, 3))
        print("noop" if noop else "real", name, json.dumps(results[name]), flush=True)
        meter.seen.clear()  # the next approach starts from the processes alive then

    items = [(c, f"{c.row:0>32}"[-32:].replace("0", "A")) for c in customers]

    def per_customer(run):
        remote = ray.remote(num_cpus=1)(one)
        ref = ray.put(run)
        out = ray.get([remote.remote(ref, c, t, noop) for c, t in items])
        return out, len(items), meter.now()

    def batched(run):
        size = batch_size(len(items), cpus, 0.001 if noop else 0.1)
        remote = ray.remote(num_cpus=1, max_retries=0)(noop_batch if noop else render_batch)
        handle = Shared(f"bench:{time.time()}", ray.put(run))
        batches = [Batch(n, tuple(Item(c, t) for c, t in items[i:i + size])) for n, i in enumerate(range(0, len(items), size))]
        out = [r for part in ray.get([remote.remote(handle, b, shared) for b in batches]) for r in part]
        return out, len(batches), meter.now()

    @ray.remote(num_cpus=1)
    class Renderer:
        def __init__(self, run):
            self.run = run

        def render(self, customer, token):
            return one(self.run, customer, token, noop)

    def actor_pool(run):
        ref = ray.put(run)
        actors = [Renderer.remote(ref) for _ in range(cpus)]
        pool = ActorPool(actors)
        out = list(pool.map_unordered(lambda a, item: a.render.remote(*item), items))
        ended = meter.now()  # before the actors' processes end
        for a in actors:
            ray.kill(a)
        return out, len(items), ended

    def ray_data(run):
        import ray.data

        ref = ray.put(run)

        class Udf:
            def __init__(self):
                self.run = ray.get(ref)

            def __call__(self, batch):
                out = [one(self.run, c, t, noop) for c, t in zip(batch["customer"], batch["token"], strict=True)]
                return {"result": out}

        size = batch_size(len(items), cpus, 0.001 if noop else 0.1)
        ds = ray.data.from_items([{"customer": c, "token": t} for c, t in items]).map_batches(
            Udf, batch_size=size, concurrency=cpus, num_cpus=1, batch_format="numpy")
        out = [row["result"] for row in ds.iter_rows()]
        return out, None, meter.now()

    for name, fn in (("task-per-customer", per_customer), ("batched-tasks", batched), ("actor-pool", actor_pool), ("ray-data", ray_data)):
        try:
            measure(name, fn)
        except Exception as exc:  # reported in the results, so a failing approach is visible, not hidden
            results[name] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
            print(name, "failed:", results[name]["error"], flush=True)
    meter.stop()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=300, help="customers through the real job, each way")
    ap.add_argument("--noop", type=int, default=3000, help="customers through a job that does nothing, each way (the fan-out alone)")
    ap.add_argument("--cpus", type=int, default=os.cpu_count())
    args = ap.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    from renderer.shared import render_shared_scenes

    with tempfile.TemporaryDirectory(prefix="tc-fanout-") as tmp:
        folder = Path(tmp)
        template, customers = prepare(folder, max(args.customers, args.noop))
        shared = render_shared_scenes(template, "en", "en", None, str(folder / "cache"))
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            warm = ray.remote(lambda: 1)
            ray.get([warm.remote() for _ in range(args.cpus * 2)])
            meter = RayCpu(ray._private.worker._global_node.get_session_dir_path())
            i0, t0 = meter.now(), time.perf_counter()
            time.sleep(15)
            idle = (meter.now() - i0) / (time.perf_counter() - t0)
            meter.stop()
            print("idle Ray CPU-s per s", round(idle, 4), flush=True)
            noop = approaches(ray, template, customers[: args.noop], shared, folder / "noop", args.cpus, True, idle)
            real = approaches(ray, template, customers[: args.customers], shared, folder / "real", args.cpus, False, idle)
        finally:
            ray.shutdown()
    report = {"customers": args.customers, "noop_customers": args.noop, "cpus": args.cpus, "idle_cpu_per_s": round(idle, 4),
              "machine": machine(), "loadavg_after": loadavg(), "noop": noop, "real": real}
    OUT.mkdir(exist_ok=True)
    path = OUT / "fanout.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
