"""Users (admins only: create, change role, disable) and the audit log."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, url_for

from store.passwords import MAX_LENGTH, MIN_LENGTH
from store.users import ROLES

from . import inputs
from .auth import require
from .state import studio_state

bp = Blueprint("people", __name__)


@bp.get("/users")
def users():
    require("users")
    return render_template("users.html", users=studio_state().users.all(), roles=ROLES, min_length=MIN_LENGTH)


@bp.post("/users")
def create():
    require("users")
    st = studio_state()
    name = inputs.text("name", 64).strip().lower()
    role = inputs.text("role", 16)
    st.users.create(name, role, inputs.text("password", 1024), st.now())
    st.record("create-user", f"user {name}", role)
    return redirect(url_for("people.users"), 303)


@bp.post("/users/<name>")
def update(name: str):
    require("users")
    st = studio_state()
    role = inputs.text("role", 16, required=False) or None
    active = {"": None, "yes": True, "no": False}.get(inputs.text("active", 3, required=False))
    if name == g.user.name and (active is False or (role and role != "admin")):
        abort(409, description="you cannot disable yourself or drop your own admin role; ask another admin")
    st.users.update(name, role=role, active=active)
    st.record("update-user", f"user {name}", f"role={role or '-'} active={active}")
    return redirect(url_for("people.users"), 303)


@bp.post("/users/<name>/password")
def reset_password(name: str):
    """An admin sets another user's password (they forgot it); that user's sessions end. One's own: /account/password."""
    require("users")
    st = studio_state()
    if name == g.user.name:
        abort(409, description="change your own password on the Password page; it asks for the current one")
    st.users.update(name, password=inputs.text("password", MAX_LENGTH))
    st.record("reset-password", f"user {name}")
    return redirect(url_for("people.users"), 303)


@bp.get("/audit")
def audit():
    require("audit")
    user = inputs.text("user", 64, required=False, source=request.args) or None
    return render_template("audit.html", entries=studio_state().audit.recent(500, user), user=user)
