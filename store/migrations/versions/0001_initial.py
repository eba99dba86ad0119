"""The public server's first tables: page events, instalment requests, invoices, webhook deliveries.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements only INTEGER primary keys
AT = sa.DateTime(timezone=True)  # UTC, aware


def upgrade() -> None:
    op.create_table(
        "public_events",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(48), nullable=True),
        sa.Column("at", AT, nullable=False),
    )
    op.create_index("ix_public_events_token", "public_events", ["token"])
    op.create_table(
        "public_instalment_requests",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("instalments", sa.Integer(), nullable=False),
        sa.Column("contact", sa.String(8), nullable=True),
        sa.Column("at", AT, nullable=False),
    )
    op.create_index("ix_public_instalment_requests_token", "public_instalment_requests", ["token"])
    op.create_table(
        "public_invoices",
        sa.Column("ref", sa.String(64), primary_key=True),
        sa.Column("token", sa.String(64), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("issued_at", AT, nullable=False),
        sa.Column("paid_at", AT, nullable=True),
        sa.Column("paid_cents", sa.BigInteger(), nullable=True),
        sa.Column("paid_via", sa.String(16), nullable=True),
    )
    op.create_index("ix_public_invoices_token", "public_invoices", ["token"])
    op.create_table(
        "public_webhook_deliveries",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("at", AT, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("public_webhook_deliveries")
    op.drop_index("ix_public_invoices_token", "public_invoices")
    op.drop_table("public_invoices")
    op.drop_index("ix_public_instalment_requests_token", "public_instalment_requests")
    op.drop_table("public_instalment_requests")
    op.drop_index("ix_public_events_token", "public_events")
    op.drop_table("public_events")
