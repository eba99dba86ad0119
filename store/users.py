"""The studio's staff: names, roles and password hashes (never the password itself).

Roles: designer (templates, previews), approver (approves versions), operator
(runs), viewer (read-only), admin (users). What each may do is decided by the
studio (studio/roles.py); the store only keeps the role.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from tailorcast.errors import StudioRefused

from .models import StudioUser
from .passwords import DUMMY_HASH, N, check_strength, hash_password, verify_password

ROLES = ("designer", "approver", "operator", "viewer", "admin")
NAME = re.compile(r"[a-z][a-z0-9._-]{1,63}")  # used with fullmatch: "$" would accept a trailing newline


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    role: str
    active: bool
    created_at: dt.datetime
    # changes whenever the password does (a digest of its salted hash): a session keeps the stamp it was signed in
    # with, so a new password ends the user's other sessions (studio/auth.py)
    stamp: str = field(default="", repr=False)


def _row(u: StudioUser) -> UserRow:
    return UserRow(u.id, u.name, u.role, u.active, u.created_at, hashlib.sha256(u.password_hash.encode()).hexdigest()[:32])


def check_role(role: str) -> None:
    if role not in ROLES:
        raise StudioRefused(f"role {role!r}", f"not a role; use one of {', '.join(ROLES)}")


class Users:
    def __init__(self, engine: Engine, password_cost: int = N) -> None:
        """``password_cost``: scrypt's n for new hashes (tests use a small one; the default is the floor for real use)."""
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.password_cost = password_cost

    def create(self, name: str, role: str, password: str, at: dt.datetime) -> UserRow:
        if not NAME.fullmatch(name):
            raise StudioRefused(f"user name {name!r}", "use 2-64 lower-case letters, digits, '.', '_' or '-', starting with a letter")
        check_role(role)
        weak = check_strength(password)
        if weak:
            raise StudioRefused(f"user {name}", weak)
        try:
            with self._sessions.begin() as s:
                user = StudioUser(name=name, role=role, password_hash=hash_password(password, self.password_cost), active=True, created_at=at)
                s.add(user)
                s.flush()
                return _row(user)
        except IntegrityError:
            raise StudioRefused(f"user {name}", "exists already; pick another name") from None

    def get(self, user_id: int) -> UserRow | None:
        with self._sessions() as s:
            user = s.get(StudioUser, user_id)
            return None if user is None else _row(user)

    def by_name(self, name: str) -> UserRow | None:
        with self._sessions() as s:
            user = s.scalar(select(StudioUser).where(StudioUser.name == name))
            return None if user is None else _row(user)

    def authenticate(self, name: str, password: str) -> UserRow | None:
        """The active user with this name and password, else None (same work either way)."""
        with self._sessions() as s:
            user = s.scalar(select(StudioUser).where(StudioUser.name == name))
            ok = verify_password(password, user.password_hash if user else DUMMY_HASH)
            return _row(user) if ok and user is not None and user.active else None

    def change_password(self, name: str, current: str, new: str) -> UserRow | None:
        """The user with ``new`` as password, if ``current`` is theirs (None otherwise: nothing changes). StudioRefused
        when ``new`` is too weak (the rules of :meth:`create`) or is ``current`` again."""
        weak = check_strength(new)
        if weak:
            raise StudioRefused(f"user {name}", weak)
        with self._sessions.begin() as s:
            user = s.scalar(select(StudioUser).where(StudioUser.name == name))
            if not verify_password(current, user.password_hash if user else DUMMY_HASH) or user is None or not user.active:
                return None
            if new == current:
                raise StudioRefused(f"user {name}", "the new password is the current one; choose another")
            user.password_hash = hash_password(new, self.password_cost)
            return _row(user)

    def all(self) -> list[UserRow]:
        with self._sessions() as s:
            return [_row(u) for u in s.scalars(select(StudioUser).order_by(StudioUser.name))]

    def update(self, name: str, *, role: str | None = None, active: bool | None = None, password: str | None = None) -> UserRow:
        if role is not None:
            check_role(role)
        if password is not None and check_strength(password):
            raise StudioRefused(f"user {name}", check_strength(password))
        with self._sessions.begin() as s:
            user = s.scalar(select(StudioUser).where(StudioUser.name == name))
            if user is None:
                raise StudioRefused(f"user {name}", "no such user")
            if role is not None:
                user.role = role
            if active is not None:
                user.active = active
            if password is not None:
                user.password_hash = hash_password(password, self.password_cost)
            return _row(user)
