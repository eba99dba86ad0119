"""The studio in tests: an app on a fresh store with one user per role, and a client that logs in and sends CSRF tokens."""

from __future__ import annotations

import re
from pathlib import Path

PASSWORD = "a long enough password"
TEST_PASSWORD_COST = 2**8
ROLE_USERS = {"designer": "dana", "approver": "abe", "operator": "olga", "viewer": "vic", "admin": "ada"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def studio_app(settings, database_url: str, tmp_path: Path, clock=None, users: bool = True, **options):
    """A studio on ``database_url`` whose state lives in ``tmp_path``; the sample templates imported; a user per role
    (unless the database has them already: ``users=False``)."""
    from studio.app import create_studio_app
    from studio.config import studio_config
    from studio.state import EXTENSION

    cfg = studio_config(settings.with_(state_dir=tmp_path / "state"), database_url=database_url, **options)
    app = create_studio_app(cfg, **({"clock": clock} if clock else {}))
    app.config["TESTING"] = True
    st = app.extensions[EXTENSION]
    from store.users import Users

    cheap = Users(st.store.engine, password_cost=TEST_PASSWORD_COST)  # same scheme, a small n: logging in costs ~1 ms, not ~80
    for role, name in ROLE_USERS.items() if users else ():
        cheap.create(name, role, PASSWORD, st.now())
    return app


_SEED: list[Path] = []


def seed_database(settings) -> Path:
    """A SQLite file with the sample templates imported and a user per role, made once per test process."""
    if not _SEED:
        import atexit
        import shutil
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="studio-seed-"))
        atexit.register(shutil.rmtree, folder, True)
        studio_app(settings, f"sqlite:///{folder / 'seed.db'}", folder)
        _SEED.append(folder / "seed.db")
    return _SEED[0]


def seeded_app(settings, seed: Path, tmp_path: Path, clock=None, **options):
    """A studio on a copy of the SQLite file ``seed`` (:func:`seed_database`): no migration, no password hashing per test."""
    import shutil

    db = tmp_path / "studio.db"
    shutil.copyfile(seed, db)
    return studio_app(settings, f"sqlite:///{db}", tmp_path, clock=clock, users=False, **options)


def state(app):
    from studio.state import EXTENSION

    return app.extensions[EXTENSION]


class Staff:
    """A test client signed in as one user; ``post`` adds the session's CSRF token unless told not to."""

    def __init__(self, app, name: str | None = None) -> None:
        self.client = app.test_client()
        self.token = ""
        if name:
            self.login(name)

    def csrf(self) -> str:
        if not self.token:
            self.token = _CSRF.search(self.client.get("/login").get_data(as_text=True)).group(1)
        return self.token

    def login(self, name: str, password: str = PASSWORD):
        resp = self.client.post("/login", data={"name": name, "password": password, "csrf_token": self.csrf()})
        if resp.status_code == 302:
            page = self.client.get("/runs").get_data(as_text=True)  # a light page: the session's new token
            self.token = _CSRF.search(page).group(1)
        return resp

    def get(self, url: str, **kw):
        return self.client.get(url, **kw)

    def post(self, url: str, data: dict | None = None, csrf: bool = True, **kw):
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.token
        return self.client.post(url, data=data, **kw)
