"""Alembic's entry point for the store's migrations.

:func:`store.migrate.alembic_config` hands over the app's own connection. Run
another way (Alembic's API with no connection), it connects to the URL the
servers use: ``sqlalchemy.url`` if set, else TAILORCAST_DATABASE_URL or SQLite
in the state folder, through the same settings.
"""

from __future__ import annotations

from alembic import context

from store.database import database_url, open_engine
from store.models import Base
from tailorcast.settings import load_settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or database_url(load_settings())


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")  # SQLite alters tables by copying them
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    _run(config.attributes["connection"])
else:
    engine = open_engine(_url())
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()
