"""The command line: clear errors without tracebacks, documented commands."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from tailorcast.cli import main

from helpers.samples import SAMPLE_CSV, TEMPLATE_DIR


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("TAILORCAST_STATE", str(tmp_path / "state"))
    return CliRunner()


def test_every_command_is_documented_with_an_example(cli):
    for name, cmd in main.commands.items():
        assert cmd.help and "Example:" in cmd.help, name
        result = cli.invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "Example:" in result.output


def test_invalid_template_fails_before_any_work_with_one_clear_message(cli, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(TEMPLATE_DIR, broken, ignore=shutil.ignore_patterns("*.csv"))
    (broken / "template.yaml").write_text((broken / "template.yaml").read_text().replace("duration: 8", "duration: 1"))
    result = cli.invoke(main, ["run", str(broken), "--customers", str(SAMPLE_CSV), "--out", str(tmp_path / "pub")])
    assert result.exit_code == 2
    assert "error: template 'bill-explainer'" in result.output or "error: template 'broken'" in result.output
    assert "start it earlier or lengthen the scene" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "pub").exists()


def test_unreadable_customers_file(cli, tmp_path):
    result = cli.invoke(main, ["run", str(TEMPLATE_DIR), "--customers", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "pub")])
    assert result.exit_code == 2
    assert "file not found; pass the CRM export with --customers" in " ".join(result.output.split())
    assert "rendering" not in result.output  # failed before the progress bar
    assert "Traceback" not in result.output


def test_unreachable_bucket_fails_before_rendering(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = cli.invoke(main, ["run", str(TEMPLATE_DIR), "--customers", str(SAMPLE_CSV), "--out", "s3://bills/x", "--endpoint-url", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "error: bucket 's3://bills/x/'" in text and "check --endpoint-url" in text
    assert "Traceback" not in result.output


def test_validate_reports_bad_rows_and_exits_1(cli):
    result = cli.invoke(main, ["validate", str(TEMPLATE_DIR), "--customers", str(SAMPLE_CSV)])
    assert result.exit_code == 1
    assert "51 valid, 4 invalid of 55 rows" in result.output
    assert "row 55 (customer CUST-00054), column 'locale'" in " ".join(result.output.split())


def test_validate_good_template_exits_0(cli):
    result = cli.invoke(main, ["validate", str(TEMPLATE_DIR)])
    assert result.exit_code == 0 and "valid" in result.output


def test_preview_writes_a_still_of_the_rendition(cli, tmp_path):
    from PIL import Image

    out = tmp_path / "still.png"
    result = cli.invoke(main, ["preview", str(TEMPLATE_DIR), "--row", "2", "--scene", "amount", "--at", "3", "--rendition", "landscape", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "scene 'amount' at 3.00 s, 1280x720" in result.output
    assert Image.open(out).size == (1280, 720)


def test_preview_of_an_invalid_row_names_the_problem(cli, tmp_path):
    result = cli.invoke(main, ["preview", str(TEMPLATE_DIR), "--row", "53", "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert "row 53 (customer CUST-00052), column 'amount_due': is empty" in " ".join(result.output.split())
    result = cli.invoke(main, ["preview", str(TEMPLATE_DIR), "--row", "999", "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "no row 999" in " ".join(result.output.split())


def test_preview_unknown_scene_or_rendition_is_one_clear_error(cli, tmp_path):
    for args, text in ((["--scene", "nope"], "has no scene 'nope'"), (["--rendition", "square"], "no rendition 'square'")):
        result = cli.invoke(main, ["preview", str(TEMPLATE_DIR), "--row", "2", "--out", str(tmp_path / "x.png"), *args])
        assert result.exit_code == 2, result.output
        assert "error: preview:" in result.output and text in " ".join(result.output.split())
        assert "Traceback" not in result.output


@pytest.mark.parametrize(("flags", "api", "drop"), [([], False, False), (["--api"], True, False),
                                                    (["--no-api", "--drop-personal-segments"], False, True)])
def test_run_passes_api_and_drop_personal_segments_to_the_billing_run(cli, tmp_path, monkeypatch, flags, api, drop):
    import workers.run
    from workers.run import RunSummary

    seen = {}

    def fake_run_billing(template, customers, bucket, settings, **kwargs):
        seen.update(kwargs)
        return RunSummary("r1", template.name, template.version, rows=1, ok=1)

    monkeypatch.setattr(workers.run, "run_billing", fake_run_billing)
    result = cli.invoke(main, ["run", str(TEMPLATE_DIR), "--customers", str(SAMPLE_CSV), "--out", str(tmp_path / "out"), *flags])
    assert result.exit_code == 0, result.output
    assert (seen["api"], seen["drop_personal_segments"]) == (api, drop)
    assert ("personal segments of this run removed" in result.output) == drop


def test_log_lines_in_a_file_or_a_pipe_are_whole_and_dated(capsys):
    """Not a terminal (a scheduler's log, `make demo | tee`): one line per record however long, with its level and date."""
    import logging
    import re

    from tailorcast import cli

    cli._setup_logging(0)
    try:
        long = "run bill-explainer-8f98ffc05586 row 56, column 'customer_id': rejected; " + "the reason is in the run's error report " * 4
        logging.getLogger("tailorcast.run").warning(long)
        logging.getLogger("tailorcast.run").info("not at the default level")
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 1 and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} WARNING " + re.escape(long.rstrip()) + r"\s*", lines[0]), lines
    finally:
        logging.basicConfig(force=True)


@pytest.mark.parametrize("command", [["serve", "."], ["public-server"], ["studio"]])
@pytest.mark.parametrize("port", ["-1", "0", "65536", "99999"])
def test_a_port_out_of_range_is_a_usage_error_not_a_traceback(cli, command, port):
    # before: the studio's bind() raised OverflowError with a traceback; serve printed "Serving" and died
    result = cli.invoke(main, [*command, "--port", port])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '--port': {port} is not in the range 1<=x<=65535" in result.output
    assert not isinstance(result.exception, OverflowError) and "Traceback" not in result.output


@pytest.mark.parametrize("args", [["run", str(TEMPLATE_DIR), "--customers", str(SAMPLE_CSV), "--run-id", "../x"],
                                  ["bake", "../x", str(TEMPLATE_DIR), "--customers", str(SAMPLE_CSV)],
                                  ["results", "import-run", "../x", "--from", "."], ["results", "a/b"]])
def test_a_run_id_that_cannot_be_a_bucket_key_is_a_usage_error(cli, args, tmp_path):
    # before: run, bake and import-run ended in a ValueError traceback from tailorcast/keys.py
    result = cli.invoke(main, args + (["--out", str(tmp_path / "out")] if args[0] in ("run", "bake") else []))
    assert result.exit_code == 2, result.output
    assert "is not a run id: use 1 to 64 letters, digits" in " ".join(result.output.split())
    assert not (tmp_path / "out").exists() and "Traceback" not in result.output
