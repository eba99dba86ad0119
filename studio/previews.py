"""Preview: a row (from the version's sample file or an uploaded CSV), a rendition, a locale and a variant;
stills at any time of the timeline, the scenes this row sees and why, and the customer's whole video and
microsite published on demand (studio/renders.py), shown in a phone-sized frame."""

from __future__ import annotations

import itertools
import secrets
from pathlib import Path, PurePosixPath

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, send_from_directory, session, url_for

from store.versions import VersionRow
from tailorcast.customers import read_customers
from tailorcast.errors import InputError, RenderError, RowError, TailorcastError
from tailorcast.payments.links import derive_key
from tailorcast.settings import Settings

from . import inputs
from .auth import require
from .catalog import version_or_404
from .previewer import Choice, context, timeline
from .state import studio_state

bp = Blueprint("previews", __name__)
ROWS_LISTED = 200
UPLOAD_SUFFIXES = (".csv", ".jsonl")
SITE_PREFIXES = ("c/", "shared/")
UPLOAD_KEEP_SECONDS = 24 * 3600


def sources(version: VersionRow) -> list[str]:
    """The version's own customer files, then this user's uploads."""
    own = [f"sample:{p}" for p in sorted(version.files) if p.endswith(UPLOAD_SUFFIXES)]
    return own + [f"upload:{u}" for u in session.get("uploads", [])]


def customers_path(version: VersionRow, source: str) -> Path:
    st = studio_state()
    kind, _, rest = source.partition(":")
    if kind == "sample" and rest in version.files and rest.endswith(UPLOAD_SUFFIXES):
        return st.workspace.folder(version) / rest
    if kind == "upload" and rest in session.get("uploads", []):
        found = list((st.config.work_dir / "uploads").glob(f"{rest}.*"))
        if found:
            return found[0]
    abort(400, description=f"no customers file {source[:80]!r} for this version; pick one from the list or upload a CSV")


def choice_from(args, version: VersionRow, default_source: str | None = None) -> tuple[str, Choice]:
    source = inputs.text("source", 200, required=False, source=args) or default_source or (sources(version) or [""])[0]
    if not source:
        abort(400, description="this version has no sample customers file; upload a CSV to preview a row")
    path = customers_path(version, source)
    row = inputs.number("row", 0, 0, 10**7, source=args)
    rendition = inputs.text("rendition", 40, required=False, source=args) or None
    locale = inputs.text("locale", 20, required=False, source=args) or None
    variant = inputs.text("variant", 40, required=False, source=args) or None
    return source, Choice(path, row, rendition, locale, variant)


def said(exc: Exception) -> str:
    """An error as a page shows it: a customers file by its name, not the server's path to it (a KeyError without
    its quotes)."""
    if isinstance(exc, InputError):
        return f"customers file '{Path(exc.source).name}': {exc.message}"
    return str(exc).strip("'\"")


def listed_rows(template, path: Path) -> list[tuple[int, str, str]]:
    """(row, customer id, locale or the row's problem) of the file's first rows."""
    out = []
    try:
        for item in itertools.islice(read_customers(template, path), ROWS_LISTED):
            if isinstance(item, RowError):
                out.append((item.row, item.customer_id or "?", f"invalid: {item.column + ': ' if item.column else ''}{item.reason}"))
            else:
                out.append((item.row, item.customer_id, item.locale))
    except InputError as exc:
        abort(400, description=said(exc))
    return out


@bp.get("/t/<name>/preview")
def page(name: str):
    st = studio_state()
    version = version_or_404(name, inputs.number("v", 0))
    check = st.workspace.check(version)
    if not check.valid:
        return render_template("preview.html", name=name, version=version, check=check, problem="this version has problems; fix them first")
    template = st.workspace.template(version)
    source, choice = choice_from(request.args, version)
    rows = listed_rows(template, choice.customers)
    if not choice.row:
        first = first_valid_row(rows)
        if first is None:
            return render_template("preview.html", name=name, version=version, check=check, problem="no valid row in this file")
        choice = Choice(choice.customers, first, choice.rendition, choice.locale, choice.variant)
    try:
        line = timeline(template, context(template, choice), choice.rendition)
        problem = None
    except (TailorcastError, KeyError) as exc:
        line, problem = None, said(exc)
    return render_template("preview.html", name=name, version=version, check=check, template=template, rows=rows, choice=choice,
                           source=source, sources=sources(version), line=line, problem=problem, review=None)


def first_valid_row(rows: list[tuple[int, str, str]]) -> int | None:
    return next((row for row, _cid, what in rows if not what.startswith("invalid")), None)


def with_a_row(version: VersionRow, choice: Choice) -> Choice:
    """``choice``, its row the file's first valid one when none was asked for (as the preview page picks)."""
    if choice.row:
        return choice
    try:
        template = studio_state().workspace.template(version)
    except TailorcastError as exc:
        abort(422, description=said(exc))
    first = first_valid_row(listed_rows(template, choice.customers))
    if first is None:
        abort(422, description="no valid row in this file; pick a row (row=N) or another file")
    return Choice(choice.customers, first, choice.rendition, choice.locale, choice.variant)


@bp.get("/t/<name>/still.png")
def still(name: str):
    version = version_or_404(name, inputs.number("v", 0))
    _source, choice = choice_from(request.args, version)
    return still_response(version, with_a_row(version, choice), inputs.seconds("at"))


def still_response(version: VersionRow, choice: Choice, at: float) -> Response:
    st = studio_state()
    try:
        png, scene_id, local = st.previews.still(version, choice, at)
    except (TailorcastError, KeyError) as exc:
        abort(422, description=said(exc))
    return Response(png, mimetype="image/png", headers={"X-Scene": scene_id, "X-Scene-Time": f"{local:.3f}", "Cache-Control": "private, max-age=300"})


@bp.get("/t/<name>/timeline")
def timeline_json(name: str):
    st = studio_state()
    version = version_or_404(name, inputs.number("v", 0))
    _source, choice = choice_from(request.args, version)
    choice = with_a_row(version, choice)
    try:
        template = st.workspace.template(version)
        line = timeline(template, context(template, choice), choice.rendition)
    except (TailorcastError, KeyError) as exc:
        abort(422, description=said(exc))
    return jsonify(duration=line.duration, fps=line.fps, scenes=[s.__dict__ for s in line.scenes])


@bp.post("/t/<name>/preview/upload")
def upload_rows(name: str):
    st = studio_state()
    version = version_or_404(name, inputs.number("v", source=request.form))
    sent = request.files.getlist("customers")
    if len(sent) != 1 or not sent[0].filename:
        abort(400, description="choose one .csv or .jsonl file of customers")
    suffix = PurePosixPath(sent[0].filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        abort(400, description=f"a customers file is .csv or .jsonl, not {suffix or 'a file without extension'}")
    key = secrets.token_urlsafe(18)
    folder = st.config.work_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():  # rows uploaded for previews are personal data: kept a day
        if st.clock() - old.stat().st_mtime > UPLOAD_KEEP_SECONDS:
            old.unlink(missing_ok=True)
    sent[0].save(folder / f"{key}{suffix}")
    session["uploads"] = (session.get("uploads", []) + [key])[-10:]
    st.record("upload-rows", f"{name}@{version.short}", f"{suffix} file for previews")
    return _redirect_preview(name, version.id, f"upload:{key}")


def _redirect_preview(name: str, version_id: int, source: str):
    return redirect(url_for("previews.page", name=name, v=version_id, source=source), 303)


@bp.post("/t/<name>/render")
def render(name: str):
    require("render")
    st = studio_state()
    version = version_or_404(name, inputs.number("v", source=request.form))
    _source, choice = choice_from(request.form, version)
    if not st.workspace.check(version).valid:
        abort(409, description=f"version {version.short} has problems; fix them on the template's page before rendering it")
    template = st.workspace.template(version)
    settings = Settings(state_dir=st.config.state_dir, secret=derive_key(st.config.review_secret, "preview"))  # tokens unlike a run's
    try:
        job = st.renders.start(template, version.id, choice.customers, choice.row, choice.locale, settings, choice.variant)
    except (RenderError, ValueError) as exc:  # a row out of range, a locale or variant the template does not have, a broken line
        abort(422, description=said(exc))
    st.record("render", f"{name}@{version.short}", f"row {choice.row}" + "".join(f" {k}={v}" for k, v in (("locale", job.locale), ("variant", job.variant)) if v))
    return redirect(url_for("previews.rendering", key=job.key), 303)


@bp.get("/renders/<key>")
def rendering(key: str):
    job = studio_state().renders.get(key)
    if job is None:
        abort(404, description="no such render (renders are kept for a few hours); start it again from the preview")
    if request.accept_mimetypes.best == "application/json":
        return jsonify(state=job.state, seconds=round(job.seconds or (studio_state().clock() - job.started), 1), error=job.error,
                       progress=job.progress(),
                       page=url_for("previews.site_file", key=key, path=job.page) if job.page else None,
                       videos={r: url_for("previews.site_file", key=key, path=p) for r, p in job.videos.items()})
    return render_template("render.html", job=job, key=key)


@bp.get("/preview-site/<key>/<path:path>")
def site_file(key: str, path: str):
    """A published preview's files (only c/ and shared/), in a sandbox: the page runs with an opaque origin."""
    st = studio_state()
    job = st.renders.get(key)
    if job is None or job.state != "done" or not path.startswith(SITE_PREFIXES) or ".." in path.split("/"):
        abort(404)
    if path.endswith("/"):
        path += "index.html"
    resp = send_from_directory(st.renders.folder(key), path, conditional=True)
    resp.headers["Content-Security-Policy"] = "sandbox allow-scripts; default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
