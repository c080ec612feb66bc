"""Shop orders: which shipment tracks which number of which shop order, and which shop webhooks
were received (for deduplication and ``tracker status``).

Revision ID: 0004_shops
Revises: 0003_lanes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tracker.store.models import UTCDateTime

revision = "0004_shops"
down_revision = "0003_lanes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shop_links",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("shop", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("fulfillment_id", sa.String(64), nullable=False),
        sa.Column("tracking_number", sa.String(64), nullable=False),
        sa.Column(
            "shipment_id",
            sa.Integer,
            sa.ForeignKey("shipments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("order_reference", sa.String(100), nullable=False),
        sa.Column("carrier_label", sa.String(100)),
        sa.Column("tracking_url", sa.String(500)),
        sa.Column("paypal_order_id", sa.String(64)),
        sa.Column("paypal_capture_id", sa.String(64)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint(
            "shop", "order_id", "fulfillment_id", "tracking_number", name="uq_shop_links_parcel"
        ),
    )
    op.create_index("ix_shop_links_shipment", "shop_links", ["shipment_id"])
    op.create_index("ix_shop_links_order", "shop_links", ["shop", "order_id"])
    op.create_table(
        "shop_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("shop", sa.String(64), nullable=False),
        sa.Column("delivery_id", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.UniqueConstraint("shop", "delivery_id", name="uq_shop_deliveries_delivery"),
    )
    op.create_index("ix_shop_deliveries_received", "shop_deliveries", ["shop", "received_at"])


def downgrade() -> None:
    op.drop_table("shop_deliveries")
    op.drop_table("shop_links")
