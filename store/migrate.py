"""Schema migrations with Alembic, configured in code: no alembic.ini, the scripts live in store/migrations/.

The schema is made only by migrations. ``tailorcast db upgrade`` runs them; a
server opening an embedded SQLite database runs them itself; a server database
(PostgreSQL) not at head is refused with a :class:`~tailorcast.errors.ConfigError`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect

from tailorcast.errors import ConfigError

from .database import connect, shown

log = logging.getLogger("tailorcast.store")
MIGRATIONS = Path(__file__).resolve().with_name("migrations")
FIRST_REVISION = "0001"
FIRST_TABLES = ("public_events", "public_instalment_requests", "public_invoices", "public_webhook_deliveries")  # made by create_all before 0001


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's config for our scripts; with ``connection``, env.py migrates through it (same URL as the app)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The revision this code needs."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The database's revision; None for a database no migration has run on."""
    with connect(engine) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, target: str = "head") -> str | None:
    """Bring the database to ``target`` in one transaction; returns the revision it is at afterwards."""
    try:
        with connect(engine) as conn, conn.begin():
            _adopt_unversioned(conn)
            command.upgrade(alembic_config(conn), target)
    except CommandError as exc:
        raise ConfigError(f"database {shown(engine.url)}: cannot upgrade to {target} ({exc}); is it from a newer Tailorcast?") from exc
    return current_revision(engine)


def require_head(engine: Engine) -> None:
    """Refuse a database whose schema is not the one this code needs."""
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current is not None and current not in known:
        raise ConfigError(f"database {shown(engine.url)} is at revision {current}, which this code does not know (it needs {head}): "
                          "run the Tailorcast version that upgraded it, or restore a backup")
    raise ConfigError(f"database {shown(engine.url)} is at revision {current or 'none (no tables)'}, code needs {head}: "
                      "run `tailorcast db upgrade`")


def _adopt_unversioned(conn: Connection) -> None:
    """A database whose tables were made before migrations existed is marked as at the first revision, not made again."""
    if MigrationContext.configure(conn).get_current_revision() is not None:
        return
    if set(FIRST_TABLES) <= set(inspect(conn).get_table_names()):
        log.warning("database %s has the tables but no revision: marking it as at %s", shown(conn.engine.url), FIRST_REVISION)
        command.stamp(alembic_config(conn), FIRST_REVISION)
