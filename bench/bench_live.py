"""What an unbaked customer's live stills cost: CPU, files and bytes, in this process (no Ray, no bucket).

    .venv/bin/python bench/bench_live.py                      # this tree, 5 rounds over both samples' valid rows
    .venv/bin/python bench/bench_live.py --tree /tmp/before   # another tree (git archive REV | tar -x -C /tmp/before)
    .venv/bin/python bench/bench_live.py --run 50             # and an in-process bake: false run of 50 bill-explainer rows

Each round calls ``workers.job.live_media`` (what a bake: false job does for its live stills: draw, pack or
encode, the player's data) for every valid row of both sample templates, after one warm round (fonts, the
stills shared by customers), and reports process CPU per customer, files and bytes per customer. With --run
it also runs ``run_billing`` in this process into a temporary folder (the InProcessExecutor) and reports the
files in a customer's folder and the jobs' CPU (the manifest's ``cpu_seconds``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent, help="the source tree to measure")
ap.add_argument("--rounds", type=int, default=5)
ap.add_argument("--run", type=int, default=0, help="rows of an in-process bake: false run (0: none)")
args = ap.parse_args()
ROOT = args.tree.resolve()
sys.path.insert(0, str(ROOT))

from tailorcast import keys  # noqa: E402
from tailorcast.context import customer_context  # noqa: E402
from tailorcast.csvfile import read_rows  # noqa: E402
from tailorcast.customers import read_customers  # noqa: E402
from tailorcast.spec.load import load_template  # noqa: E402
from workers import job  # noqa: E402

assert Path(job.__file__).resolve().is_relative_to(ROOT), job.__file__
TOKEN = "q3Zr0vC8Hn2WbE6xLkT1yA9sPdF4mJ7u"
rows = []
for name in ("bill-explainer", "payment-reminder"):
    t = load_template(ROOT / "templates" / name)
    rows += [(t, customer_context(t, c)) for c in read_customers(t, ROOT / "templates" / name / "sample-customers.csv") if hasattr(c, "values")]


def one_round() -> tuple[float, float, float]:
    files = nbytes = 0
    c0 = time.process_time()
    for t, ctx in rows:
        base = {r.name: keys.shared_object("video", "ab" * 16, "mp4") for r in t.video.renditions}
        _, written = job.live_media(SimpleNamespace(template=t), ctx, TOKEN, keys.customer_page(TOKEN), base)
        files += len(written)
        nbytes += sum(len(b) for b in written.values())
    return (time.process_time() - c0) / len(rows), files / len(rows), nbytes / len(rows)


one_round()
res = [one_round() for _ in range(args.rounds)]
out = {"tree": str(ROOT), "rows": len(rows), "live_media_cpu_ms": [round(r[0] * 1000, 2) for r in res],
       "median_ms": round(statistics.median(r[0] for r in res) * 1000, 2), "files_per_customer": round(res[0][1], 2),
       "bytes_per_customer": round(res[0][2])}

if args.run:
    from tailorcast.bucket import LocalBucket
    from tailorcast.settings import Settings
    from workers.executors import InProcessExecutor
    from workers.run import run_billing

    tmp = Path(tempfile.mkdtemp(prefix="tc-bench-live-"))
    try:
        folder = tmp / "template"
        shutil.copytree(ROOT / "templates" / "bill-explainer", folder)
        spec = folder / "template.yaml"
        spec.write_text(spec.read_text().replace("  default_rendition: portrait\n", "  default_rendition: portrait\n  bake: false\n", 1))
        lines = (ROOT / "templates" / "bill-explainer" / "sample-customers.csv").read_text().splitlines()
        body = [line for line in lines[1:] if line.strip()]
        (tmp / "in.csv").write_text("\n".join([lines[0]] + (body * (args.run // len(body) + 1))[: args.run]) + "\n")
        summary = run_billing(load_template(folder), tmp / "in.csv", LocalBucket(tmp / "out"),
                              Settings(state_dir=tmp / "state", secret=b"bench-" + b"x" * 40), run_id="bench-live",
                              executor=InProcessExecutor())
        ok = [r for r in read_rows((tmp / "out" / summary.manifest).read_text()) if r["status"] == "ok"]
        folders = [[p for p in (tmp / "out" / "c" / r["token"]).rglob("*") if p.is_file()] for r in ok]
        cpu = [float(r["cpu_seconds"]) for r in ok]
        out["run"] = {"ok": len(ok), "files_per_customer": sorted({len(f) for f in folders}),
                      "bytes_per_customer": round(statistics.mean(sum(p.stat().st_size for p in f) for f in folders)),
                      "job_cpu_s_mean": round(statistics.mean(cpu), 4), "job_cpu_s_median": round(statistics.median(cpu), 4),
                      "a_folder": sorted(p.relative_to(tmp / "out" / "c" / ok[0]["token"]).as_posix() for p in folders[0])}
    finally:
        shutil.rmtree(tmp)
print(json.dumps(out))
