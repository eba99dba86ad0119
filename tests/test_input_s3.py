"""Customers files in S3 (moto's server over HTTP): streamed, read like local files, resumed when the body
breaks, refused clearly when missing; the run id of an s3:// file follows its content."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers.samples import TEMPLATE_DIR

ZOO = Path(__file__).parent / "data" / "input"
BUCKET = "exports"


@pytest.fixture(scope="module")
def s3(s3_server):
    """(endpoint, a boto3 client) with the zoo's files under s3://exports/zoo/."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_server)
    client.create_bucket(Bucket=BUCKET)
    for path in ZOO.iterdir():
        if path.suffix in (".csv", ".jsonl", ".parquet"):
            client.put_object(Bucket=BUCKET, Key=f"zoo/{path.name}", Body=path.read_bytes())
    return s3_server, client


def _report(items) -> dict:
    from tailorcast.errors import RowError

    return {"customers": [[c.row, c.customer_id] for c in items if not isinstance(c, RowError)],
            "errors": [[e.row, e.customer_id, e.column, e.reason] for e in items if isinstance(e, RowError)]}


@pytest.mark.parametrize("name", ["italian-excel.csv", "typed.parquet", "broken-line.jsonl", "cp1252.csv", "excel-unicode.csv"])
def test_an_s3_file_gives_the_same_report_as_the_local_one(template, s3, name):
    from tailorcast.customers import InputOptions, read_customers

    endpoint, _ = s3
    case = json.loads((ZOO / f"{name}.expected.json").read_text(encoding="utf-8"))["cases"][0]
    items = list(read_customers(template, f"s3://{BUCKET}/zoo/{name}", InputOptions(**case["options"], endpoint_url=endpoint)))
    assert _report(items) == {"customers": case["customers"], "errors": case["errors"]}


def test_validate_reads_an_s3_file_with_the_endpoint(s3, tmp_path, monkeypatch):
    from tailorcast.cli import main

    monkeypatch.setenv("TAILORCAST_STATE", str(tmp_path / "state"))
    endpoint, _ = s3
    result = CliRunner().invoke(main, ["validate", str(TEMPLATE_DIR), "--customers", f"s3://{BUCKET}/zoo/italian-excel.csv",
                                       "--decimal", ",", "--endpoint-url", endpoint])
    assert result.exit_code == 0, result.output
    assert "customers: 5 valid, 0 invalid of 5 rows" in result.output


@pytest.mark.parametrize("location,message", [
    (f"s3://{BUCKET}/zoo/nope.csv", "no such object; check the bucket name and the key"),
    ("s3://no-such-bucket/x.csv", "no such object"),  # moto answers a HEAD on a missing bucket with 404 too
    (f"s3://{BUCKET}", "not an object; write it as s3://BUCKET/KEY"),
    (f"s3://{BUCKET}/zoo/", "not an object"),
    ("https://example.com/x.csv", "unknown scheme; use a file path or s3://BUCKET/KEY"),
])
def test_an_s3_location_that_cannot_be_read_is_an_input_error(template, s3, location, message):
    from tailorcast.customers import InputOptions, read_customers
    from tailorcast.errors import InputError

    with pytest.raises(InputError) as err:
        read_customers(template, location, InputOptions(endpoint_url=s3[0]))
    assert message in str(err.value)


def test_the_cli_says_so_without_a_traceback(s3, tmp_path, monkeypatch):
    from tailorcast.cli import main

    monkeypatch.setenv("TAILORCAST_STATE", str(tmp_path / "state"))
    result = CliRunner().invoke(main, ["run", str(TEMPLATE_DIR), "--customers", f"s3://{BUCKET}/zoo/nope.csv", "--endpoint-url", s3[0],
                                       "--out", str(tmp_path / "pub")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"error: customers 's3://{BUCKET}/zoo/nope.csv': no such object" in " ".join(result.output.split())


def test_a_body_that_breaks_is_resumed_where_it_stopped(s3):
    from tailorcast.s3 import open_object

    endpoint, client = s3
    data = bytes(range(256)) * 4096
    client.put_object(Bucket=BUCKET, Key="big.bin", Body=data)
    reader = open_object(BUCKET, "big.bin", endpoint)
    gets = []
    reader._client.meta.events.register("before-parameter-build.s3.GetObject", lambda params, **_: gets.append(params.get("Range")))
    first = reader.read(1000)
    reader._body._raw_stream.close()  # the connection drops mid-body
    rest = reader.read()
    assert first + rest == data
    assert gets == ["bytes=0-", "bytes=1000-"]
    reader.seek(-10, 2)
    assert reader.read(100) == data[-10:] and gets[-1] == f"bytes={len(data) - 10}-"


def test_an_object_replaced_while_it_is_read_is_an_input_error(s3):
    from tailorcast.errors import InputError
    from tailorcast.s3 import open_object

    endpoint, client = s3
    client.put_object(Bucket=BUCKET, Key="moving.csv", Body=b"a" * 1000)
    reader = open_object(BUCKET, "moving.csv", endpoint)
    client.put_object(Bucket=BUCKET, Key="moving.csv", Body=b"b" * 1000)
    with pytest.raises(InputError, match="the object was replaced while it was read; run again"):
        reader.read(10)


def test_the_run_id_of_an_s3_file_follows_its_content(template, s3):
    from workers.run import derive_run_id

    endpoint, client = s3
    client.put_object(Bucket=BUCKET, Key="monthly.csv", Body=(ZOO / "semicolon.csv").read_bytes())
    first = derive_run_id(template, f"s3://{BUCKET}/monthly.csv", endpoint)
    assert derive_run_id(template, f"s3://{BUCKET}/monthly.csv", endpoint) == first
    client.put_object(Bucket=BUCKET, Key="monthly.csv", Body=(ZOO / "bom.csv").read_bytes())
    assert derive_run_id(template, f"s3://{BUCKET}/monthly.csv", endpoint) != first
    assert first.startswith("bill-explainer-")


def test_a_run_reads_its_customers_from_s3(s3, tmp_path):
    """The run engine's side: rows, run id and progress total come from the s3:// file, in this process."""
    from tailorcast.bucket import LocalBucket
    from tailorcast.customers import InputOptions
    from tailorcast.settings import Settings
    from tailorcast.spec.load import load_template
    from workers.executors import InProcessExecutor
    from workers.run import derive_run_id, run_billing

    from test_input_zoo import ITALIAN, MONEY_TINY
    from helpers.tiny import write_tiny

    endpoint, client = s3
    client.put_object(Bucket=BUCKET, Key="tiny/export.csv", Body=ITALIAN)
    template = load_template(write_tiny(tmp_path / "tiny", MONEY_TINY))
    location = f"s3://{BUCKET}/tiny/export.csv"
    summary = run_billing(template, location, LocalBucket(tmp_path / "pub"), Settings(state_dir=tmp_path / "state", secret=b"s3-secret-" + b"x" * 32),
                          executor=InProcessExecutor(), input_options=InputOptions(decimal=",", endpoint_url=endpoint))
    assert (summary.rows, summary.ok, summary.invalid) == (4, 2, 2)
    assert summary.run_id == derive_run_id(template, location, endpoint)
