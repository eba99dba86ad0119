"""What reading a customers file costs: rows per second and peak memory, at 10,000 and at 1,000,000 rows.

    .venv/bin/python bench/bench_input.py                   # CSV and Parquet, 10k and 1M rows (a few minutes on 2 cores)
    .venv/bin/python bench/bench_input.py --rows 10000 100000 --formats csv

The rows are the sample file's valid customers of bill-explainer, repeated with new ids (one row in a
thousand has a bad amount, so the error path is exercised). Each file is read to the end by
``tailorcast.customers.read_customers`` in a fresh child process, which reports its peak RSS
(``VmHWM``: ``ru_maxrss`` would count the pages it had from this process when it was forked), its RSS before reading (after the imports and the template), CPU and wall time. The
duplicate-id set is measured alone too (bytes per id). Results: a table, and bench/out/input-<time>.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import machine, warn_if_busy  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "templates" / "bill-explainer"
OUT = ROOT / "bench" / "out"


def sample_rows() -> tuple[list[str], list[dict]]:
    from tailorcast.customers import Customer, read_customers
    from tailorcast.spec.load import load_template

    import csv

    template = load_template(TEMPLATE)
    valid = {c.row for c in read_customers(template, TEMPLATE / "sample-customers.csv") if isinstance(c, Customer)}
    with (TEMPLATE / "sample-customers.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = [r for n, r in enumerate(reader, 2) if n in valid]
        return list(reader.fieldnames), rows


def generated(n: int, rows: list[dict]):
    for i, base in zip(range(n), itertools.cycle(rows)):
        yield {**base, "customer_id": f"CUST-{i:09d}", "invoice_id": f"2026-10-{i:09d}", "amount_due": "x" if i % 1000 == 999 else base["amount_due"]}


def write_csv(path: Path, n: int, header: list[str], rows: list[dict]) -> None:
    from tailorcast.csvfile import write_input_csv

    write_input_csv(path, header, generated(n, rows))


def write_parquet(path: Path, n: int, header: list[str], rows: list[dict], row_group: int) -> None:
    """String columns, as a CRM export converted to Parquet has them; ``row_group`` rows per row group
    (``n``: one row group for the whole file, the worst case for a reader's memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(h, pa.string()) for h in header])
    it = generated(n, rows)
    batches = []
    while batch := list(itertools.islice(it, 100_000)):
        batches.append(pa.RecordBatch.from_pylist(batch, schema))
    pq.write_table(pa.Table.from_batches(batches, schema), path, row_group_size=row_group)


FORMATS = ["csv", "parquet", "parquet-64k", "csv-s3", "parquet-s3"]


def start_s3():
    """moto's S3 server on 127.0.0.1 in this process, a bucket 'bench', and a client: (endpoint, client)."""
    import boto3
    from moto.server import ThreadedMotoServer

    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client("s3", endpoint_url=f"http://{host}:{port}")
    client.create_bucket(Bucket="bench")
    return f"http://{host}:{port}", client


READER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from tailorcast.customers import read_customers, Customer
from tailorcast.spec.load import load_template
template = load_template(sys.argv[2])
def status_kb(name):
    return int(next(l for l in open("/proc/self/status") if l.startswith(name + ":")).split()[1])
before = status_kb("VmRSS")
t0, c0 = time.perf_counter(), time.process_time()
ok = bad = 0
from tailorcast.customers import InputOptions
for item in read_customers(template, sys.argv[3], InputOptions(endpoint_url=sys.argv[4] if len(sys.argv) > 4 else None)):
    if isinstance(item, Customer):
        ok += 1
    else:
        bad += 1
print(json.dumps({"ok": ok, "invalid": bad, "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                  "rss_before_mib": before / 1024, "peak_rss_mib": status_kb("VmHWM") / 1024}))
"""

IDSET = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from tailorcast.idset import SeenIds
def rss_kb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1])
seen = SeenIds()
before = rss_kb()
n = int(sys.argv[2])
for i in range(n):
    seen.first_row(f"CUST-{i:09d}", i + 2)
after = rss_kb()
plain = set(f"CUST-{i:09d}" for i in range(n))
print(json.dumps({"ids": n, "idset_rss_mib": (after - before) / 1024, "idset_array_bytes_per_id": seen.nbytes() / n,
                  "python_set_rss_mib": (rss_kb() - after) / 1024}))
"""


def child(script: str, *args: str) -> dict:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    out = subprocess.run([sys.executable, "-c", script, str(ROOT), *args], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 1_000_000])
    ap.add_argument("--formats", nargs="+", default=["csv", "parquet", "parquet-64k", "csv-s3", "parquet-s3"], choices=FORMATS,
                    help="parquet: one row group for the whole file; parquet-64k: row groups of 65,536 rows; *-s3: the same file "
                         "read from moto's S3 server over HTTP (started here, in another process than the reader)")
    ap.add_argument("--keep", type=Path, default=None, help="write the generated files here (default: a temporary folder)")
    a = ap.parse_args()
    load = list(os.getloadavg())
    warn_if_busy(load)
    header, rows = sample_rows()
    results = []
    with tempfile.TemporaryDirectory(prefix="tc-bench-input-") as tmp:
        folder = a.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        s3 = start_s3() if any(f.endswith("-s3") for f in a.formats) else None
        for fmt in a.formats:
            for n in a.rows:
                path = folder / f"customers-{n}-{fmt}.{'csv' if fmt.startswith('csv') else 'parquet'}"
                t0 = time.perf_counter()
                if fmt.startswith("csv"):
                    write_csv(path, n, header, rows)
                else:
                    write_parquet(path, n, header, rows, 65_536 if fmt == "parquet-64k" else n)
                made = time.perf_counter() - t0
                if fmt.endswith("-s3"):
                    s3[1].upload_file(str(path), "bench", path.name)
                    r = child(READER, str(TEMPLATE), f"s3://bench/{path.name}", s3[0])
                    s3[1].delete_object(Bucket="bench", Key=path.name)
                else:
                    r = child(READER, str(TEMPLATE), str(path))
                r.update(format=fmt, rows=n, file_mib=path.stat().st_size / 2**20, write_s=made,
                         rows_per_cpu_s=n / r["cpu_s"], rows_per_wall_s=n / r["wall_s"])
                assert r["ok"] + r["invalid"] == n, r
                results.append(r)
                print(f"{fmt:11} {n:>9,} rows  {r['file_mib']:7.1f} MiB  peak RSS {r['peak_rss_mib']:6.1f} MiB (before reading {r['rss_before_mib']:5.1f})"
                      f"  {r['rows_per_cpu_s']:8,.0f} rows/CPU-s  {r['rows_per_wall_s']:8,.0f} rows/s", flush=True)
                if a.keep is None:
                    path.unlink()
    ids = child(IDSET, str(max(a.rows)))
    print(f"seen ids: {ids['ids']:,} ids: {ids['idset_rss_mib']:.1f} MiB RSS ({ids['idset_array_bytes_per_id']:.1f} array bytes per id); "
          f"a Python set of the id strings: {ids['python_set_rss_mib']:.1f} MiB")
    OUT.mkdir(exist_ok=True)
    out = OUT / f"input-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.write_text(json.dumps({"machine": machine(), "load_before": load, "reads": results, "seen_ids": ids,
                               "driver_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
