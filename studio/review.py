"""The read-only review page behind a review link: one version's preview (its sample rows, stills, scenes), no account."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from store.versions import VersionRow
from tailorcast.errors import TailorcastError

from .previewer import Choice, context, timeline
from .previews import UPLOAD_SUFFIXES, first_valid_row, listed_rows, said, still_response, with_a_row
from . import inputs
from .review_links import read_link
from .state import studio_state

bp = Blueprint("review", __name__)
WHY = {"malformed": "this is not a review link", "signature": "this review link was changed or is not from this studio",
       "expired": "this review link has expired; ask for a new one"}


def _version(token: str) -> VersionRow:
    st = studio_state()
    version_id, why = read_link(st.config.review_secret, token, st.clock())
    version = st.versions.get(version_id) if version_id else None
    if version is None:
        abort(410 if why == "expired" else 403, description=WHY.get(why, "this version no longer exists"))
    return version


def _choice(version: VersionRow) -> Choice:
    st = studio_state()
    samples = [p for p in sorted(version.files) if p.endswith(UPLOAD_SUFFIXES)]
    sample = inputs.text("source", 200, required=False, source=request.args).removeprefix("sample:") or (samples or [""])[0]
    if sample not in samples:
        abort(400, description="this version has no such sample customers file")
    return Choice(st.workspace.folder(version) / sample, inputs.number("row", 0, 0, 10**7), inputs.text("rendition", 40, required=False, source=request.args) or None,
                  inputs.text("locale", 20, required=False, source=request.args) or None,
                  inputs.text("variant", 40, required=False, source=request.args) or None)


@bp.get("/r/<token>")
def watch(token: str):
    st = studio_state()
    version = _version(token)
    check = st.workspace.check(version)
    if not check.valid:
        return render_template("preview.html", name=version.template, version=version, check=check, problem="this version has problems", review=token)
    template = st.workspace.template(version)
    choice = _choice(version)
    rows = listed_rows(template, choice.customers)
    if not choice.row:
        choice = Choice(choice.customers, first_valid_row(rows) or 2, choice.rendition, choice.locale, choice.variant)
    try:
        line, problem = timeline(template, context(template, choice), choice.rendition), None
    except (TailorcastError, KeyError) as exc:
        line, problem = None, said(exc)
    source = "sample:" + choice.customers.name if choice.customers.parent == st.workspace.folder(version) else ""
    return render_template("preview.html", name=version.template, version=version, check=check, template=template, rows=rows,
                           choice=choice, source=source, sources=[f"sample:{p}" for p in sorted(version.files) if p.endswith(UPLOAD_SUFFIXES)],
                           line=line, problem=problem, review=token)


@bp.get("/r/<token>/still.png")
def still(token: str):
    version = _version(token)
    return still_response(version, with_a_row(version, _choice(version)), inputs.seconds("at"))
