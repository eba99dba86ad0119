"""Billing runs: start one from an uploaded CRM file or a bucket path with an approved version, follow it live,
cancel it, download its manifest and error report; the history with who started them."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath

from flask import Blueprint, Response, abort, g, jsonify, redirect, render_template, request, stream_with_context, url_for

from store.runs import FINAL
from tailorcast.errors import StorageError
from tailorcast.records import count_rows
from tailorcast.sources import source_of

from . import inputs
from .auth import require
from .state import studio_state

bp = Blueprint("runs", __name__)
INPUT_SUFFIXES = (".csv", ".jsonl", ".parquet")
BUCKET_PATH = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,62}/[^\s]{1,900}\.(csv|jsonl|parquet)")  # used with fullmatch: "$" would accept a trailing newline
DOWNLOAD_TYPES = {"manifest.csv": "text/csv; charset=utf-8", "errors.csv": "text/csv; charset=utf-8", "summary.json": "application/json"}
OUT = re.compile(r"(s3://[a-z0-9][a-z0-9.-]{1,62}(/[^\s]{0,500})?|[A-Za-z0-9_./-]{1,300})")  # used with fullmatch: "$" would accept a trailing newline


@bp.get("/runs")
def history():
    st = studio_state()
    runs = st.runs.history()
    if request.accept_mimetypes.best == "application/json":
        return jsonify(runs=[{"run_id": r.run_id, "template": r.template, "version": r.version_id, "state": r.state, "started_by": r.started_by,
                              "started_at": r.started_at.isoformat(), "finished_at": r.finished_at.isoformat() if r.finished_at else None}
                             for r in runs])
    return render_template("runs.html", runs=runs, approved=st.versions.approved(), default_out=st.config.default_out)


@bp.post("/runs")
def start():
    require("run")
    st = studio_state()
    version = st.versions.get(inputs.number("version", source=request.form))
    if version is None or version.state != "approved":
        abort(409, description="runs use approved versions only; pick one from the list (submit and approve a version first)")
    out = inputs.text("out", 300, required=False).strip() or st.config.default_out
    if not OUT.fullmatch(out) or ".." in out.split("/"):
        abort(400, description="'out' must be a folder path (letters, digits, _ . / -) or s3://BUCKET/PREFIX")
    bucket_path = inputs.text("bucket_path", 1000, required=False).strip()
    sent = [f for f in request.files.getlist("customers") if f.filename]
    if bool(sent) == bool(bucket_path):
        abort(400, description="give either a CRM file to upload or a bucket path (s3://bucket/key.csv), not both and not neither")
    if bucket_path and not BUCKET_PATH.fullmatch(bucket_path):
        abort(400, description="the bucket path must look like s3://bucket/path/export.csv (or .jsonl, .parquet)")
    from .launcher import new_run_id

    suffix = PurePosixPath(sent[0].filename).suffix.lower() if sent else ""
    if sent and (len(sent) != 1 or suffix not in INPUT_SUFFIXES):
        abort(400, description="upload one .csv, .jsonl or .parquet CRM export")
    run_id = new_run_id(version.template, st.clock())
    folder = st.launcher.folder(run_id)
    (folder / "input").mkdir(parents=True)  # after every check: a refused start leaves no folder
    if sent:
        path = folder / "input" / f"customers{suffix}"
        sent[0].save(path)
        customers, source = str(path), f"upload: {PurePosixPath(sent[0].filename).name[:200]}"
        (folder / "meta.json").write_text(json.dumps({"rows": count_rows(source_of(path))}))  # what the page shows until the run counts
    else:
        customers, source = bucket_path, bucket_path
    export = st.workspace.folder(version)
    run = st.runs.add(run_id, version.id, version.template, source, out if out.startswith("s3://") or Path(out).is_absolute() else str(Path.cwd() / out),
                      str(folder), g.user.name, st.now())
    st.record("start-run", f"run {run_id}", f"{version.template}@{version.short} from {source} to {run.out}")
    st.launcher.start(run_id, export, customers, run.out)
    return redirect(url_for("runs.follow", run_id=run_id), 303)


def _run_or_404(run_id: str):
    run = studio_state().runs.get(run_id)
    if run is None:
        abort(404, description=f"no run {run_id[:80]!r}")
    return run


@bp.get("/runs/<run_id>")
def follow(run_id: str):
    st = studio_state()
    run = _run_or_404(run_id)
    progress = st.launcher.progress(run)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(run_id=run.run_id, **progress.as_json())
    return render_template("run.html", run=run, progress=progress, version=st.versions.get(run.version_id), final=FINAL)


@bp.post("/runs/<run_id>/cancel")
def cancel(run_id: str):
    require("run")
    st = studio_state()
    run = _run_or_404(run_id)
    st.launcher.cancel(run)
    st.record("cancel-run", f"run {run_id}")
    return redirect(url_for("runs.follow", run_id=run_id), 303)


@bp.get("/runs/<run_id>/<any('manifest.csv', 'errors.csv', 'summary.json'):name>")
def run_file(run_id: str, name: str):
    """The run's own file, as it wrote it (its CSVs are spreadsheet-safe already: tailorcast/csvfile.py), as an
    attachment, streamed from the folder or the bucket it was published to."""
    st = studio_state()
    run = _run_or_404(run_id)
    try:
        found = st.launcher.open_run_file(run, name)
    except StorageError as exc:
        abort(502, description=f"the run's bucket cannot be read: {exc}; check the studio's --endpoint-url and credentials")
    if found is None:
        abort(404, description=f"{name} is not there (yet): it is written when the run ends")
    st.record("download", f"run {run_id}", name)
    resp = Response(stream_with_context(found.chunks), mimetype=DOWNLOAD_TYPES[name], direct_passthrough=True)
    if found.size is not None:
        resp.content_length = found.size
    resp.headers["Content-Disposition"] = f'attachment; filename="{run_id}-{name}"'
    resp.call_on_close(getattr(found.chunks, "close", lambda: None))
    return resp
