"""Covering indexes for results across runs: a customer's sends (customer_key, run_id, status) and a customer's payments
in time order (customer_key, paid_at). They replace the customer_key-only indexes of 0003, which they begin with.

results.outcomes looks up, per customer key, the runs that carried them (first send in an experiment, next send) and
the payments by customer id between a send and the next: with 0003's indexes each lookup read the table's rows.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_results_customers_key_run_status", "results_customers", ["customer_key", "run_id", "status"])
    op.drop_index("ix_results_customers_customer_key", table_name="results_customers")
    op.create_index("ix_results_payments_key_paid_at", "results_payments", ["customer_key", "paid_at"])
    op.drop_index("ix_results_payments_customer_key", table_name="results_payments")


def downgrade() -> None:
    op.create_index("ix_results_payments_customer_key", "results_payments", ["customer_key"])
    op.drop_index("ix_results_payments_key_paid_at", table_name="results_payments")
    op.create_index("ix_results_customers_customer_key", "results_customers", ["customer_key"])
    op.drop_index("ix_results_customers_key_run_status", table_name="results_customers")
