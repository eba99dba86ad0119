"""The studio's tables: users, template files and versions, reviews, runs, the audit log.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements only INTEGER primary keys
AT = sa.DateTime(timezone=True)  # UTC, aware


def upgrade() -> None:
    op.create_table(
        "studio_users",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", AT, nullable=False),
    )
    op.create_table(
        "studio_blobs",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "studio_versions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("parent_id", ID, sa.ForeignKey("studio_versions.id"), nullable=True),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("saved_at", AT, nullable=False),
        sa.UniqueConstraint("template", "digest", name="uq_studio_versions_template_digest"),
    )
    op.create_index("ix_studio_versions_template", "studio_versions", ["template"])
    op.create_table(
        "studio_reviews",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("version_id", ID, sa.ForeignKey("studio_versions.id"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", AT, nullable=False),
    )
    op.create_index("ix_studio_reviews_version_id", "studio_reviews", ["version_id"])
    op.create_table(
        "studio_runs",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(80), nullable=False, unique=True),
        sa.Column("version_id", ID, sa.ForeignKey("studio_versions.id"), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("out", sa.String(300), nullable=False),
        sa.Column("folder", sa.String(500), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("started_by", sa.String(64), nullable=False),
        sa.Column("started_at", AT, nullable=False),
        sa.Column("finished_at", AT, nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
    )
    op.create_table(
        "studio_audit",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("at", AT, nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_studio_audit_at", "studio_audit", ["at"])


def downgrade() -> None:
    op.drop_index("ix_studio_audit_at", "studio_audit")
    op.drop_table("studio_audit")
    op.drop_table("studio_runs")
    op.drop_index("ix_studio_reviews_version_id", "studio_reviews")
    op.drop_table("studio_reviews")
    op.drop_index("ix_studio_versions_template", "studio_versions")
    op.drop_table("studio_versions")
    op.drop_table("studio_blobs")
    op.drop_table("studio_users")
