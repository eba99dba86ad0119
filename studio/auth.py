"""Log-in, log-out, who is signed in, and what their role lets them do.

Nothing answers without a session except the log-in page, the static files,
review links and preview sites (both reached by an unguessable, expiring key).
Failed log-ins are limited per user name and per address, and so are wrong current
passwords on the change-password form. A session holds the stamp of the password it
was signed in with (``UserRow.stamp``): a new password ends every other session.
"""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for

from store.passwords import MAX_LENGTH, MIN_LENGTH
from tailorcast.errors import StudioRefused

from . import inputs
from .csrf import FIELD, csrf_token
from .roles import ACTIONS, can
from .state import studio_state

bp = Blueprint("auth", __name__)
OPEN_ENDPOINTS = {"auth.login", "static", "review.watch", "review.still", "review.video", "previews.site_file"}


def load_user() -> None:
    """``g.user`` from the session: None when signed out, or when the user was disabled since."""
    g.user = None
    uid = session.get("uid")
    if uid is not None:
        user = studio_state().users.get(uid)
        if user is not None and user.active and session.get("stamp") == user.stamp:
            g.user = user
        else:
            session.clear()


def require_login():
    if g.user is None and request.endpoint not in OPEN_ENDPOINTS:
        if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
            abort(401, description="sign in first")
        return redirect(url_for("auth.login", next=request.path if request.method == "GET" else None))
    return None


def require(action: str) -> None:
    """Refuse (403) unless the signed-in user's role may do ``action``."""
    if g.user is None or not can(g.user.role, action):
        role = g.user.role if g.user else "nobody"
        abort(403, description=f"your role ({role}) cannot {ACTIONS[action]}; ask an admin")


@bp.route("/login", methods=["GET", "POST"])
def login():
    st = studio_state()
    error, status = None, 200
    if request.method == "POST":
        name = request.form.get("name", "").strip().lower()[:64]
        password = request.form.get("password", "")
        keys = _limit_keys(name)
        now = st.clock()
        wait = max(st.logins.wait(k, now) for k in keys)
        if wait:
            error, status = f"too many failed log-ins; try again in {wait} s", 429
        else:
            user = st.users.authenticate(name, password)
            if user is None:
                for k in keys:
                    st.logins.fail(k, now)
                error, status = "wrong user name or password", 401
            else:
                session.clear()  # a new session: no fixation
                session["uid"] = user.id
                session["stamp"] = user.stamp
                session.permanent = True
                csrf_token()
                st.audit.add(st.now(), user.name, "login", f"user {user.name}")
                target = request.args.get("next") or ""
                local = target.startswith("/") and not target.startswith(("//", "/\\")) and "\\" not in target
                return redirect(target if local else url_for("catalog.index"))
    resp = render_template("login.html", error=error, field=FIELD)
    return resp, status


@bp.post("/logout")
def logout():
    if g.user is not None:
        studio_state().audit.add(studio_state().now(), g.user.name, "logout", f"user {g.user.name}")
    session.clear()
    return redirect(url_for("auth.login"))


def _limit_keys(name: str) -> tuple[str, str]:
    """What failed log-ins and wrong current passwords are counted by: the user name and the address."""
    return f"user:{name}", f"addr:{request.remote_addr}"


@bp.route("/account/password", methods=["GET", "POST"])
def password():
    """The signed-in user's own password: the current one, then the new one twice. A wrong current password counts as
    a failed log-in (same limit); the change ends the user's other sessions and keeps this one."""
    st = studio_state()
    error, status = None, 200
    if request.method == "POST":
        current = inputs.text("current", MAX_LENGTH)
        new, again = inputs.text("new", MAX_LENGTH), inputs.text("again", MAX_LENGTH)
        keys = _limit_keys(g.user.name)
        now = st.clock()
        wait = max(st.logins.wait(k, now) for k in keys)
        if wait:
            error, status = f"too many wrong passwords; try again in {wait} s", 429
        elif new != again:
            error, status = "the new password and its repetition differ; type the same password twice", 400
        else:
            try:
                user = st.users.change_password(g.user.name, current, new)
            except StudioRefused as exc:
                user, error, status = None, exc.reason, 400
            if user is None and error is None:
                for k in keys:
                    st.logins.fail(k, now)
                error, status = "the current password is wrong", 403
            elif user is not None:
                session["stamp"] = user.stamp  # this session goes on; every other one of this user ends
                st.record("change-password", f"user {user.name}")
                return redirect(url_for("auth.password", changed=1), 303)
    return render_template("password.html", error=error, changed=request.args.get("changed") == "1" and not error,
                           min_length=MIN_LENGTH, max_length=MAX_LENGTH), status
