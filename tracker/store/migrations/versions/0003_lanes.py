"""Index delivered shipments by lane, so transit-time percentiles are learned cheaply.

Revision ID: 0003_lanes
Revises: 0002_ops
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_lanes"
down_revision = "0002_ops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_shipments_lane_delivered",
        "shipments",
        ["carrier", "destination_country", "delivered_at"],
        sqlite_where=sa.text("delivered_at IS NOT NULL"),
        postgresql_where=sa.text("delivered_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_shipments_lane_delivered", "shipments")
