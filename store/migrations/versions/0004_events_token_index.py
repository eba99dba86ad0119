"""Drop ix_public_events_token: ix_public_events_token_kind_detail (token, kind, detail), made by 0003, begins with
the token, so it serves every lookup by token too; a second index only cost each event insert an extra B-tree write.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _indexes() -> set[str]:
    return {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("public_events")}


def upgrade() -> None:
    # A database adopted at 0001 (its tables made by create_all from later models) may not have it.
    if "ix_public_events_token" in _indexes():
        op.drop_index("ix_public_events_token", table_name="public_events")


def downgrade() -> None:
    if "ix_public_events_token" not in _indexes():
        op.create_index("ix_public_events_token", "public_events", ["token"])
