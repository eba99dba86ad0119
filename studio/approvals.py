"""Versions and approval: submit, approve or reject with a comment, a diff to any earlier version, review links."""

from __future__ import annotations

import difflib

from flask import Blueprint, abort, g, jsonify, redirect, render_template, request, url_for

from . import inputs
from .auth import require
from .catalog import version_or_404
from .review_links import make_link
from .roles import can
from .state import studio_state
from .workspace import is_text

bp = Blueprint("approvals", __name__)
MAX_DIFF_LINES = 5000


@bp.post("/t/<name>/submit")
def submit(name: str):
    require("edit")
    st = studio_state()
    version = version_or_404(name, inputs.number("v", source=request.form))
    if not st.workspace.check(version).valid:
        abort(409, description=f"version {version.short} has problems; fix them before submitting it for approval")
    st.versions.submit(version.id, g.user.name, st.now(), inputs.text("comment", 2000, required=False))
    st.record("submit", f"{name}@{version.short}")
    return redirect(url_for("catalog.template_page", name=name, v=version.id), 303)


@bp.post("/t/<name>/decide")
def decide(name: str):
    require("approve")
    st = studio_state()
    version = version_or_404(name, inputs.number("v", source=request.form))
    decision = inputs.text("decision", 10)
    if decision not in ("approve", "reject"):
        abort(400, description="'decision' must be approve or reject")
    comment = inputs.text("comment", 2000, required=False)
    st.versions.decide(version.id, g.user.name, decision == "approve", comment, st.now())
    st.record("approve" if decision == "approve" else "reject", f"{name}@{version.short}", comment[:200])
    return redirect(url_for("catalog.template_page", name=name, v=version.id), 303)


@bp.get("/t/<name>/diff")
def diff(name: str):
    st = studio_state()
    new = version_or_404(name, inputs.number("b", 0))
    old = version_or_404(name, inputs.number("a", 0) or new.parent_id or new.id)
    a, b = st.versions.files(old), st.versions.files(new)
    changes = []
    for path in sorted(set(a) | set(b)):
        if a.get(path) == b.get(path):
            continue
        if not is_text(path):
            changes.append((path, ["(binary file changed)"]))
            continue
        lines = list(difflib.unified_diff(a.get(path, b"").decode("utf-8", "replace").splitlines(),
                                          b.get(path, b"").decode("utf-8", "replace").splitlines(),
                                          f"{old.short}/{path}", f"{new.short}/{path}", lineterm=""))
        changes.append((path, lines[:MAX_DIFF_LINES]))
    if request.accept_mimetypes.best == "application/json":
        return jsonify(a=old.id, b=new.id, files={p: lines for p, lines in changes})
    return render_template("diff.html", name=name, old=old, new=new, changes=changes, history=st.versions.history(name))


@bp.post("/t/<name>/review-link")
def review_link(name: str):
    if not (can(g.user.role, "edit") or can(g.user.role, "approve")):
        require("edit")
    st = studio_state()
    version = version_or_404(name, inputs.number("v", source=request.form))
    expires = int(st.clock()) + st.config.review_link_hours * 3600
    token = make_link(st.config.review_secret, version.id, expires)
    st.record("review-link", f"{name}@{version.short}", f"valid {st.config.review_link_hours} h")
    return render_template("review_link.html", name=name, version=version, url=url_for("review.watch", token=token, _external=True),
                           hours=st.config.review_link_hours)
