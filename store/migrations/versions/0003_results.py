"""The results room's tables: imported runs, their customers, the billing system's payments; an index over events by token.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements only INTEGER primary keys
AT = sa.DateTime(timezone=True)  # UTC, aware


def upgrade() -> None:
    op.create_table(
        "results_runs",
        sa.Column("run_id", sa.String(80), primary_key=True),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("experiment", sa.String(64), nullable=True),
        sa.Column("declaration", sa.Text(), nullable=True),
        sa.Column("sent_at", AT, nullable=False),
        sa.Column("imported_at", AT, nullable=False),
    )
    op.create_index("ix_results_runs_experiment", "results_runs", ["experiment"])
    op.create_table(
        "results_customers",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(80), sa.ForeignKey("results_runs.run_id"), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("customer_key", sa.String(64), nullable=False),
        sa.Column("ref", sa.String(64), nullable=True),
        sa.Column("variant", sa.String(40), nullable=True),
        sa.Column("arm", sa.String(40), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.UniqueConstraint("run_id", "token", name="uq_results_customers_run_token"),
    )
    op.create_index("ix_results_customers_token", "results_customers", ["token"])
    op.create_index("ix_results_customers_customer_key", "results_customers", ["customer_key"])
    op.create_index("ix_results_customers_ref", "results_customers", ["ref"])
    op.create_table(
        "results_payments",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("row_key", sa.String(64), nullable=False, unique=True),
        sa.Column("ref", sa.String(64), nullable=True),
        sa.Column("customer_key", sa.String(64), nullable=True),
        sa.Column("paid_at", AT, nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("imported_at", AT, nullable=False),
    )
    op.create_index("ix_results_payments_ref", "results_payments", ["ref"])
    op.create_index("ix_results_payments_customer_key", "results_payments", ["customer_key"])
    # A database adopted at 0001 (its tables made by create_all before there were migrations) may have it already.
    if "ix_public_events_token_kind_detail" not in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("public_events")}:
        op.create_index("ix_public_events_token_kind_detail", "public_events", ["token", "kind", "detail"])


def downgrade() -> None:
    op.drop_index("ix_public_events_token_kind_detail", table_name="public_events")
    op.drop_table("results_payments")
    op.drop_table("results_customers")
    op.drop_table("results_runs")
