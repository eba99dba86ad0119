"""Which database the store uses and how to connect: SQLite in the state folder by default, PostgreSQL by URL.

SQLite is *embedded*: a file next to the secret, brought to the current schema
when a server opens it. PostgreSQL is a *server* database: an operator upgrades
it with ``tailorcast db upgrade`` before the servers start (see :mod:`store.migrate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import StaticPool

from tailorcast.errors import ConfigError

DATABASE_FILE = "public.db"  # in the state folder
BACKENDS = ("sqlite", "postgresql")
_EXAMPLES = "use e.g. 'sqlite:///state/public.db' or 'postgresql+psycopg://user@host/db'"


def default_url(state_dir: Path) -> str:
    """The embedded database of a state folder."""
    return f"sqlite:///{Path(state_dir) / DATABASE_FILE}"


def database_url(settings: Any) -> str:
    """The URL every server and ``tailorcast db`` use: ``settings.database_url`` (TAILORCAST_DATABASE_URL), else the default."""
    return settings.database_url or default_url(settings.state_dir)


def parse_url(url: str) -> URL:
    """``url`` checked and with its driver chosen: ``postgresql://`` means psycopg 3 (the driver installed)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"database URL {url!r} cannot be parsed ({exc}); {_EXAMPLES}") from exc
    backend = parsed.get_backend_name()
    if backend not in BACKENDS:
        raise ConfigError(f"database URL {shown(parsed)}: the store supports {' and '.join(BACKENDS)}, not {backend}; {_EXAMPLES}")
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def shown(url: str | URL) -> str:
    """The URL for messages and logs, its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(unparsable URL)"


def is_embedded(url: str) -> bool:
    """SQLite: the database lives with this process, no operator runs its migrations."""
    return parse_url(url).get_backend_name() == "sqlite"


def open_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created, in-memory SQLite one shared connection."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            return create_engine(parsed, poolclass=StaticPool, connect_args={"check_same_thread": False})
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return create_engine(parsed, connect_args={"check_same_thread": False})
    return create_engine(parsed, pool_pre_ping=True)


def connect(engine: Engine) -> Connection:
    """A connection, or a :class:`ConfigError` saying which database could not be reached."""
    try:
        return engine.connect()
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ConfigError(f"database {shown(engine.url)}: cannot connect ({reason}); check TAILORCAST_DATABASE_URL "
                          "and that the database server is running") from exc
