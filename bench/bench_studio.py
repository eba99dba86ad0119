"""The studio's preview, timed through its own app (Flask test client: server time, no network).

- still latency, cold (the first still of a scene: it draws the scene's layers) and warm (scenes already drawn:
  random jumps anywhere, and a drag forward through the whole video), p50 and p95, per template and rendition;
- time to first still after a save (save a change to a strings file, then the first still of the new version:
  export, load, resolve, composite), and the same with the template page's validation first;
- full-video preview time for one customer (publish one row as a run does: every rendition, video, poster,
  microsite), with a cold and then a warm segment cache, then with the other variant chosen (its shared scenes
  cold); with when each progress phase began and how many distinct percentages the page could show.

Every request is timed in wall seconds and in CPU seconds of this process (the test client serves it in this
thread): on a busy machine the CPU figure is what an idle one would answer in.

    .venv/bin/python bench/bench_studio.py [--stills 60] [--out bench/out/studio.json]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from measure import loadavg, machine, stats, warn_if_busy  # noqa: E402

TEMPLATES = ("payment-reminder", "bill-explainer")


def ms(values: list[float]) -> dict:
    s = stats([v * 1000 for v in values])
    return {"p50_ms": round(s["median"], 1), "p95_ms": round(s["p95"], 1), "max_ms": round(s["max"], 1), "n": s["n"]}


CPU: list[float] = []  # CPU seconds of each timed request, in the order of the wall times


def timed_get(client, url: str) -> float:
    """Wall seconds of one request; its CPU seconds (this process: the test client serves in this thread) go to CPU."""
    c0, t0 = time.process_time(), time.perf_counter()
    resp = client.get(url)
    took = time.perf_counter() - t0
    CPU.append(time.process_time() - c0)
    if resp.status_code != 200:
        raise SystemExit(f"{url}: {resp.status_code} {resp.get_data(as_text=True)[:300]}")
    return took


def with_cpu(walls: list[float]) -> dict:
    """Wall-time figures, and the CPU figures of the same requests (what an idle machine would answer in)."""
    cpu = CPU[-len(walls):]
    return {"wall": ms(walls), "cpu": ms(cpu)}


def stills(staff, st, name: str, rendition: str, count: int, rng: random.Random) -> dict:
    """Cold: one still per scene of row 2, each the first of its scene. Warm: ``count`` random times after that."""
    from studio.previewer import Choice, context, timeline

    v = st.versions.latest(name)
    template = st.workspace.template(v)
    choice = Choice(st.workspace.folder(v) / "sample-customers.csv", 2, rendition)
    line = timeline(template, context(template, choice), rendition)
    base = f"/t/{name}/still.png?v={v.id}&source=sample:sample-customers.csv&row=2&rendition={rendition}&at="
    cold = with_cpu([timed_get(staff, base + f"{s.start + s.duration / 2:.3f}") for s in line.scenes if s.plays])
    warm = with_cpu([timed_get(staff, base + f"{rng.uniform(0, line.duration - 0.05):.3f}") for _ in range(count)])
    step = max(1, line.frames // count)
    scrub = with_cpu([timed_get(staff, base + f"{n / line.fps:.3f}") for n in range(0, line.frames, step)])  # a drag, forward
    return {"scenes": len(cold["wall"]) and cold["wall"]["n"], "cold": cold, "warm_random": warm, "warm_scrub": scrub}


def first_still_after_save(staff, st, name: str, with_page: bool) -> float:
    v = st.versions.latest(name)
    strings = st.versions.file(v, "strings/en.yaml").decode()
    changed = re.sub(r"^(\w+): (.+)$", lambda m: f"{m.group(1)}: {m.group(2)} ·", strings, count=1, flags=re.M)
    c0, t0 = time.process_time(), time.perf_counter()
    resp = staff.post(f"/t/{name}/save", {"base": v.id, "file": "strings/en.yaml", "content": changed + f"\n# {time.time()}\n"})
    new_id = int(re.search(r"v=(\d+)", resp.headers["Location"]).group(1))
    if with_page:
        staff.get(resp.headers["Location"])  # the template page: tailorcast validate's checks, fonts included
    staff.get(f"/t/{name}/still.png?v={new_id}&source=sample:sample-customers.csv&row=2&at=1")
    CPU.append(time.process_time() - c0)
    return time.perf_counter() - t0


def full_video(staff, name: str, v_id: int, **override) -> dict:
    """Publish row 2 as a run does, polling the render's JSON twin as the page does (every 0.05 s here): the wall
    seconds, when each phase began, and how many distinct progress figures the page could have shown."""
    t0 = time.perf_counter()
    resp = staff.post(f"/t/{name}/render", {"v": v_id, "source": "sample:sample-customers.csv", "row": 2, **override})
    url = resp.headers["Location"]
    phases, percents = {}, []
    while True:
        job = staff.get(url, headers={"Accept": "application/json"}).get_json()
        p = job["progress"]
        phases.setdefault(p["phase"], round(time.perf_counter() - t0, 2))
        if not percents or percents[-1] != p["percent"]:
            percents.append(p["percent"])
        if job["state"] != "rendering":
            break
        time.sleep(0.05)
    if job["state"] != "done":
        raise SystemExit(f"render failed: {job['error']}")
    if percents != sorted(percents) or percents[-1] != 100:
        raise SystemExit(f"progress went backwards or stopped short: {percents}")
    return {"seconds": round(time.perf_counter() - t0, 2), "phase_started_s": phases, "progress_figures": len(percents)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stills", type=int, default=60, help="warm stills per template and rendition")
    ap.add_argument("--saves", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("bench/out/studio.json"))
    args = ap.parse_args()
    load = loadavg()
    warn_if_busy(load)

    from helpers.studio import Staff, state, studio_app
    from tailorcast.settings import Settings

    rng = random.Random(7)
    result = {"machine": machine(), "loadavg_start": load, "stills": {}, "after_save": {}, "full_video_s": {}}
    with tempfile.TemporaryDirectory(prefix="bench-studio-") as tmp:
        tmp = Path(tmp)
        app = studio_app(Settings(state_dir=tmp, secret=b"bench-secret-" + b"x" * 40), f"sqlite:///{tmp / 'studio.db'}", tmp)
        st = state(app)
        staff = Staff(app, "dana")
        for name in TEMPLATES:
            st.workspace.template(st.versions.latest(name))  # imports and fonts: what a running studio has paid once
            for rendition in ("portrait", "landscape"):
                result["stills"][f"{name}/{rendition}"] = stills(staff, st, name, rendition, args.stills, rng)
        name = TEMPLATES[0]
        result["after_save"]["still_only"] = with_cpu([first_still_after_save(staff, st, name, False) for _ in range(args.saves)])
        result["after_save"]["page_then_still"] = with_cpu([first_still_after_save(staff, st, name, True) for _ in range(args.saves)])
        v_id = st.versions.latest(name).id
        result["full_video_s"]["cold_cache"] = full_video(staff, name, v_id)
        result["full_video_s"]["warm_cache"] = full_video(staff, name, v_id)
        other = next(v.name for v in st.workspace.template(st.versions.latest(name)).variants)
        result["full_video_s"]["variant_override_cold"] = {"variant": other, **full_video(staff, name, v_id, variant=other)}
    result["loadavg_end"] = loadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    print(f"cpu: {result['machine']['cpu_model']} ({result['machine']['cpus']} cpus); written to {args.out}")


if __name__ == "__main__":
    main()
