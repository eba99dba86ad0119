"""The store: its schema is made by the migrations and equals the models', on SQLite and on a real PostgreSQL.

Tests taking ``database_url`` or ``empty_database_url`` (conftest.py) run on SQLite and, marked e2e,
on the session's throw-away PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import Column, Integer, MetaData, inspect
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateTable

from public_server.app import create_public_app
from public_server.config import PublicConfig
from store.database import database_url as settings_database_url, is_embedded, open_engine, parse_url, shown
from store.migrate import FIRST_TABLES, alembic_config, current_revision, head_revision, upgrade
from store.models import Base
from store.store import Payment, Store
from tailorcast.cli import main
from tailorcast.errors import ConfigError, InvoiceConflict, ReplayedDelivery

AT = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.timezone.utc)
TOKEN = "q3Zr0vC8Hn2WbE6xLkT1yA9sPdF4mJ7u"


@pytest.fixture
def engine(empty_database_url):
    engine = open_engine(empty_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(database_url):
    store = Store.open(database_url)
    yield store
    store.close()


def _differences(engine, metadata: MetaData) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata)


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names())


# ---------------------------------------------------------------- migrations

def test_migrations_make_exactly_the_models_schema(engine):
    assert current_revision(engine) is None and _tables(engine) == set()
    assert upgrade(engine) == head_revision()
    assert _tables(engine) == set(Base.metadata.tables) | {"alembic_version"}
    assert _differences(engine, Base.metadata) == []


def test_the_schema_comparison_sees_a_column_the_migrations_lack(engine):
    upgrade(engine)
    grown = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(grown)
    grown.tables["public_events"].append_column(Column("source", Integer, nullable=True))
    assert [d[0] for d in _differences(engine, grown)] == ["add_column"]


def test_migrations_downgrade_to_nothing_and_upgrade_again(engine):
    upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert _tables(engine) == {"alembic_version"} and current_revision(engine) is None
    assert upgrade(engine) == head_revision()
    assert _differences(engine, Base.metadata) == []


def test_upgrade_at_head_changes_nothing(engine):
    upgrade(engine)
    store = Store(engine)
    store.add_event(TOKEN, "view", None, AT)
    assert upgrade(engine) == head_revision()
    assert [e.kind for e in store.events(TOKEN)] == ["view"]


def test_events_are_indexed_once_by_token_kind_and_detail_and_0004_drops_the_token_only_index(engine):
    def indexes() -> dict[str, list[str]]:
        return {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("public_events")}

    upgrade(engine, "0003")
    assert indexes() == {"ix_public_events_token": ["token"], "ix_public_events_token_kind_detail": ["token", "kind", "detail"]}
    Store(engine).add_event(TOKEN, "view", None, AT)
    assert upgrade(engine) == head_revision()
    assert indexes() == {"ix_public_events_token_kind_detail": ["token", "kind", "detail"]}  # it covers lookups by token
    assert [e.kind for e in Store(engine).events(TOKEN)] == ["view"]
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0003")
    assert "ix_public_events_token" in indexes()


def test_0005_replaces_the_customer_key_indexes_of_results_with_covering_ones(engine):
    def indexes(table: str) -> dict[str, list[str]]:
        return {i["name"]: i["column_names"] for i in inspect(engine).get_indexes(table) if "customer_key" in i["column_names"]}

    upgrade(engine, "0004")
    assert indexes("results_customers") == {"ix_results_customers_customer_key": ["customer_key"]}
    assert indexes("results_payments") == {"ix_results_payments_customer_key": ["customer_key"]}
    assert upgrade(engine) == head_revision()
    assert indexes("results_customers") == {"ix_results_customers_key_run_status": ["customer_key", "run_id", "status"]}
    assert indexes("results_payments") == {"ix_results_payments_key_paid_at": ["customer_key", "paid_at"]}
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0004")
    assert indexes("results_customers") == {"ix_results_customers_customer_key": ["customer_key"]}
    assert indexes("results_payments") == {"ix_results_payments_customer_key": ["customer_key"]}


def test_tables_made_before_migrations_existed_are_adopted_not_made_again(engine):
    # what the public server did on start before there were migrations: its four tables
    Base.metadata.create_all(engine, tables=[Base.metadata.tables[name] for name in FIRST_TABLES])
    Store(engine).add_event(TOKEN, "view", None, AT)
    assert upgrade(engine) == head_revision()
    assert [e.kind for e in Store(engine).events(TOKEN)] == ["view"]


def test_embedded_sqlite_is_brought_to_head_when_opened(tmp_path):
    url = f"sqlite:///{tmp_path / 'state' / 'public.db'}"
    store = Store.open(url)
    try:
        assert current_revision(store.engine) == head_revision()
    finally:
        store.close()


@pytest.mark.e2e
def test_a_server_database_behind_the_code_is_refused_with_how_to_fix(postgres):
    url = postgres.create_database()
    with pytest.raises(ConfigError, match=rf"is at revision none \(no tables\), code needs {head_revision()}: run `tailorcast db upgrade`"):
        Store.open(url)
    config = PublicConfig(database_url=url, link_secret=b"l" * 32, webhook_secret=b"w" * 32, token_key=b"t" * 32)
    with pytest.raises(ConfigError, match="run `tailorcast db upgrade`"):
        create_public_app(config)
    engine = open_engine(url)
    upgrade(engine)
    engine.dispose()
    Store.open(url).close()


@pytest.mark.e2e
def test_a_server_database_from_newer_code_is_refused(postgres):
    url = postgres.create_database(at_head=True)
    engine = open_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    with pytest.raises(ConfigError, match="revision 9999, which this code does not know"):
        Store.open(url)


def test_an_unreachable_database_is_a_config_error_that_hides_the_password():
    with pytest.raises(ConfigError, match=r"cannot connect .*check TAILORCAST_DATABASE_URL") as caught:
        Store.open("postgresql://tc:secretpw@127.0.0.1:9/tc")
    assert "secretpw" not in str(caught.value)


# ---------------------------------------------------------------- tailorcast db

def test_db_upgrade_and_current_commands(empty_database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TAILORCAST_STATE", str(tmp_path / "state"))
    if is_embedded(empty_database_url):
        monkeypatch.delenv("TAILORCAST_DATABASE_URL", raising=False)
        args = ["--state", str(tmp_path / "state")]
    else:
        monkeypatch.setenv("TAILORCAST_DATABASE_URL", empty_database_url)
        args = []
    cli = CliRunner()
    behind = cli.invoke(main, ["db", "current", *args])
    assert behind.exit_code == 1 and f"code needs {head_revision()}: run `tailorcast db upgrade`" in behind.output
    done = cli.invoke(main, ["db", "upgrade", *args])
    assert done.exit_code == 0 and f"at revision {head_revision()} (head)" in done.output, done.output
    assert cli.invoke(main, ["db", "current", *args]).exit_code == 0
    assert cli.invoke(main, ["db", "upgrade", *args]).exit_code == 0  # again: nothing to do


def test_db_upgrade_with_an_unusable_url_prints_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TAILORCAST_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("TAILORCAST_DATABASE_URL", "mysql://tc@db/tc")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 2 and "supports sqlite and postgresql, not mysql" in " ".join(result.output.split())
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- URLs

def test_urls_postgresql_means_psycopg_3_and_the_default_is_sqlite_in_the_state_folder(settings):
    assert parse_url("postgresql://tc:pw@db:5432/tc").drivername == "postgresql+psycopg"
    assert parse_url("postgresql+psycopg://tc@db/tc").drivername == "postgresql+psycopg"
    assert settings_database_url(settings) == f"sqlite:///{settings.state_dir / 'public.db'}"
    assert settings_database_url(settings.with_(database_url="postgresql://db/tc")) == "postgresql://db/tc"
    assert is_embedded("sqlite://") and not is_embedded("postgresql://db/tc")
    assert "pw" not in shown("postgresql://tc:pw@db/tc") and "***" in shown("postgresql://tc:pw@db/tc")


@pytest.mark.parametrize("url, message", [("not a url", "cannot be parsed"), ("mysql://db/tc", "not mysql")])
def test_unusable_urls_are_config_errors(url, message):
    with pytest.raises(ConfigError, match=message):
        open_engine(url)


def test_schema_is_portable_to_postgresql():
    ddl = "\n".join(str(CreateTable(t).compile(dialect=postgresql.dialect())) for t in Base.metadata.sorted_tables)
    assert "BIGSERIAL" in ddl and "TIMESTAMP WITH TIME ZONE" in ddl


# ---------------------------------------------------------------- what the store keeps

def test_times_come_back_aware_in_utc_and_naive_ones_are_refused(store):
    rome = dt.timezone(dt.timedelta(hours=1))
    store.add_event(TOKEN, "view", None, AT.astimezone(rome))
    (row,) = store.events(TOKEN)
    assert row.at == AT and row.at.tzinfo == dt.timezone.utc
    with pytest.raises(Exception, match="aware datetimes only"):
        store.add_event(TOKEN, "view", None, AT.replace(tzinfo=None))


def test_an_invoice_is_paid_once_and_a_disagreeing_payment_changes_nothing(store):
    payment = Payment("2026-10-000001", 12848, "EUR", TOKEN)
    store.issue(payment, AT)
    with pytest.raises(InvoiceConflict, match=r"amount \(100 cents\) differs from what was issued \(12848 cents\)"):
        store.pay(Payment("2026-10-000001", 100, "EUR", TOKEN), "demo", AT)
    assert store.status(TOKEN).paid is False
    assert store.pay(payment, "demo", AT) == "paid"
    assert store.pay(payment, "demo", AT + dt.timedelta(minutes=1)) == "already_paid"
    assert store.status(TOKEN).paid_at == AT


def test_a_webhook_delivery_is_applied_once(store):
    assert store.apply_webhook("evt_1", "payment.succeeded", Payment("R-1", 500, "EUR", TOKEN), AT) == "paid"
    with pytest.raises(ReplayedDelivery):
        store.apply_webhook("evt_1", "payment.succeeded", Payment("R-1", 500, "EUR", TOKEN), AT)
    assert store.webhook_outcome("evt_1") == "paid"


def test_two_apps_share_one_store(database_url):
    """The public server and the staff studio each open the store; what one writes the other reads."""
    public, studio = Store.open(database_url), Store.open(database_url)
    try:
        public.add_instalment_request(TOKEN, 3, "phone", AT)
        assert studio.instalment_requests(TOKEN) == [(3, "phone")]
    finally:
        public.close()
        studio.close()
