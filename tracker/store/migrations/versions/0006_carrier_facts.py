"""What aggregators tell about a shipment beyond its events: who holds the parcel (the name buyers
see instead of the aggregator's) and where the stored delivery estimate came from, and when.

Revision ID: 0006_carrier_facts
Revises: 0005_suppressions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_carrier_facts"
down_revision = "0005_suppressions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("shipments", sa.Column("carrier_holder", sa.String(100), nullable=True))
    op.add_column("shipments", sa.Column("expected_delivery_source", sa.String(100), nullable=True))
    op.add_column(
        "shipments", sa.Column("expected_delivery_given_at", sa.DateTime(), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("shipments", "expected_delivery_given_at")
    op.drop_column("shipments", "expected_delivery_source")
    op.drop_column("shipments", "carrier_holder")
