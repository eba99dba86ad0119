"""Templates: the list with validation status, a template's page (files, problems at their line, history),
saving an edit as a new version, zip upload and download, a new template from an existing one."""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, g, jsonify, redirect, render_template, request, url_for

from store.versions import VersionRow

from . import inputs
from .auth import require
from .state import studio_state
from .workspace import EDITABLE, is_text
from .zips import read_zip, write_zip

bp = Blueprint("catalog", __name__)
MAX_FILE_CHARS = 512 * 1024  # one edited file
_NAME_LINE = re.compile(r"^name:[^\n]*$", re.M)


def version_or_404(name: str, version_id: int | None = None) -> VersionRow:
    st = studio_state()
    version = st.versions.get(version_id) if version_id else st.versions.latest(name)
    if version is None or version.template != name:
        abort(404, description=f"template {name!r} has no such version")
    return version


@bp.get("/")
def index():
    st = studio_state()
    rows = [(v, st.workspace.check(v)) for v in st.versions.templates()]
    if request.accept_mimetypes.best == "application/json":
        return jsonify(templates=[{"name": v.template, "version": v.id, "digest": v.digest, "state": v.state, "valid": c.valid,
                                   "problems": len(c.findings), "author": v.author, "saved_at": v.created_at.isoformat()} for v, c in rows])
    return render_template("index.html", rows=rows)


@bp.get("/t/<name>")
def template_page(name: str):
    st = studio_state()
    version = version_or_404(name, inputs.number("v", 0))
    check = st.workspace.check(version)
    editable = sorted(p for p in version.files if EDITABLE.fullmatch(p))
    current = request.args.get("file") or "template.yaml"
    if current not in version.files or not is_text(current):
        abort(404, description=f"this version has no text file {current[:80]!r}")
    content = st.versions.file(version, current).decode("utf-8", errors="replace")
    history = st.versions.history(name)
    latest = st.versions.latest(name)
    locked = any(v.state == "review" for v in history)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(version=version.id, digest=version.digest, state=version.state, valid=check.valid,
                       findings=[f.__dict__ for f in check.findings], files=sorted(version.files))
    return render_template("template.html", name=name, version=version, check=check, files=sorted(version.files), editable=editable,
                           current=current, content=content, history=history, latest=latest, locked=locked,
                           reviews=st.versions.reviews(version.id),
                           file_findings=[f for f in check.findings if f.file == current],
                           findings_json=[f.__dict__ for f in check.findings if f.file == current])


def _posted_draft(name: str):
    """The file an editor posts (to save or to check): its base version, its path and its bytes, checked; 400 otherwise."""
    require("edit")
    base = version_or_404(name, inputs.number("base", source=request.form))
    path = inputs.text("file", 200)
    if path not in base.files or not EDITABLE.fullmatch(path):
        abort(400, description=f"'{path[:80]}' is not an editable file of this template (template.yaml, page.html, strings/*.yaml)")
    content = inputs.text("content", MAX_FILE_CHARS, required=False).replace("\r\n", "\n").encode("utf-8")
    inputs.check_yaml(path, content)
    return base, path, content


@bp.post("/t/<name>/save")
def save(name: str):
    base, path, content = _posted_draft(name)
    st = studio_state()
    note = inputs.text("note", 200, required=False)
    files = st.versions.files(base)
    files[path] = content
    version, made = st.versions.save(name, files, g.user.name, st.now(), parent_id=base.id, note=note)
    st.record("save" if made else "restore", f"{name}@{version.short}", f"{path}; from {base.short}")
    if request.accept_mimetypes.best == "application/json":
        check = st.workspace.check(version)
        return jsonify(version=version.id, made=made, valid=check.valid, findings=[f.__dict__ for f in check.findings])
    return redirect(url_for("catalog.template_page", name=name, v=version.id, file=path), 303)


@bp.post("/t/<name>/check")
def check_draft(name: str):
    """What ``tailorcast validate`` would say if this file were saved (JSON, for the editor as one types); nothing is kept."""
    base, path, content = _posted_draft(name)
    check = studio_state().workspace.check_draft(base, path, content)
    return jsonify(valid=check.valid, findings=[f.__dict__ for f in check.findings])


@bp.get("/t/<name>/download")
def download(name: str):
    st = studio_state()
    version = version_or_404(name, inputs.number("v", 0))
    data = write_zip(name, st.versions.files(version))
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}-{version.short}.zip"'})


@bp.post("/upload")
def upload():
    require("edit")
    st = studio_state()
    sent = request.files.getlist("zip")
    if len(sent) != 1 or not sent[0].filename:
        abort(400, description="choose one .zip file of a template folder")
    files = read_zip(sent[0].stream.read(st.config.max_upload_bytes + 1))
    inputs.check_yaml_files(files)
    name = inputs.text("name", 41, required=False).strip() or _yaml_name(files["template.yaml"])
    inputs.template_name(name)
    files["template.yaml"] = _with_name(files["template.yaml"], name)
    latest = st.versions.latest(name)
    version, made = st.versions.save(name, files, g.user.name, st.now(), parent_id=latest.id if latest else None, note="uploaded zip")
    if made:
        st.record("upload", f"{name}@{version.short}", f"{len(files)} files")
    return redirect(url_for("catalog.template_page", name=name, v=version.id), 303)


@bp.post("/t/<name>/copy")
def copy(name: str):
    require("edit")
    st = studio_state()
    source = version_or_404(name, inputs.number("v", source=request.form))
    new = inputs.template_name(inputs.text("new_name", 41).strip())
    if st.versions.latest(new) is not None:
        abort(409, description=f"a template named {new!r} exists already; pick another name")
    files = st.versions.files(source)
    files["template.yaml"] = _with_name(files["template.yaml"], new)
    version, _ = st.versions.save(new, files, g.user.name, st.now(), note=f"copied from {name}@{source.short}")
    st.record("create", f"{new}@{version.short}", f"from {name}@{source.short}")
    return redirect(url_for("catalog.template_page", name=new, v=version.id), 303)


def _yaml_name(data: bytes) -> str:
    m = _NAME_LINE.search(data.decode("utf-8", errors="replace"))
    return m.group(0).split(":", 1)[1].strip().strip("'\"") if m else ""


def _with_name(data: bytes, name: str) -> bytes:
    """template.yaml with its top-level ``name:`` set to the studio's name for it (tokens and run ids use it)."""
    text = data.decode("utf-8", errors="replace")
    if _NAME_LINE.search(text):
        return _NAME_LINE.sub(f"name: {name}", text, count=1).encode()
    return f"name: {name}\n{text}".encode()

