"""Initial schema: shipments, tracking events, notice outbox, audit log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tracker.store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shipments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tracking_number", sa.String(64), nullable=False),
        sa.Column("carrier", sa.String(64), nullable=False),
        sa.Column("buyer_email", sa.String(254), nullable=False),
        sa.Column("buyer_name", sa.String(200), nullable=False),
        sa.Column("buyer_language", sa.String(8)),
        sa.Column("destination_country", sa.String(2), nullable=False),
        sa.Column("origin_country", sa.String(2)),
        sa.Column("order_reference", sa.String(100), nullable=False),
        sa.Column("shipped_at", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(40)),
        sa.Column("last_event_at", UTCDateTime),
        sa.Column("delivered_at", UTCDateTime),
        sa.Column("expected_delivery", UTCDateTime),
        sa.Column("last_polled_at", UTCDateTime),
        sa.Column("next_poll_at", UTCDateTime),
        sa.Column("unchanged_polls", sa.Integer, nullable=False),
        sa.Column("poll_failures", sa.Integer, nullable=False),
        sa.Column("next_timer_at", UTCDateTime),
        sa.Column("opted_out", sa.Boolean, nullable=False),
        sa.Column("lease_owner", sa.String(80)),
        sa.Column("lease_until", UTCDateTime),
        sa.UniqueConstraint("carrier", "tracking_number", name="uq_shipments_carrier_number"),
    )
    op.create_index(
        "ix_shipments_due",
        "shipments",
        ["next_poll_at"],
        sqlite_where=sa.text("next_poll_at IS NOT NULL"),
        postgresql_where=sa.text("next_poll_at IS NOT NULL"),
    )
    op.create_index(
        "ix_shipments_timers",
        "shipments",
        ["next_timer_at"],
        sqlite_where=sa.text("next_timer_at IS NOT NULL"),
        postgresql_where=sa.text("next_timer_at IS NOT NULL"),
    )
    op.create_index("ix_shipments_tracking_number", "shipments", ["tracking_number"])
    op.create_table(
        "tracking_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "shipment_id",
            sa.Integer,
            sa.ForeignKey("shipments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("fingerprint", sa.String(32), nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("code", sa.String(40)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("location", sa.String(200)),
        sa.Column("country", sa.String(2)),
        sa.Column("carrier", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(40)),
        sa.Column("rule", sa.String(120)),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("shipment_id", "fingerprint", name="uq_events_shipment_fingerprint"),
    )
    op.create_index("ix_events_shipment_time", "tracking_events", ["shipment_id", "occurred_at"])
    op.create_index("ix_events_status", "tracking_events", ["status"])
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "shipment_id",
            sa.Integer,
            sa.ForeignKey("shipments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(120), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("not_before", UTCDateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("message_id", sa.String(200)),
        sa.Column("subject", sa.String(300)),
        sa.Column("sent_at", UTCDateTime),
        sa.Column("lease_owner", sa.String(80)),
        sa.Column("lease_until", UTCDateTime),
        sa.UniqueConstraint("idempotency_key", name="uq_notices_idempotency_key"),
    )
    op.create_index("ix_notices_due", "notices", ["state", "not_before"])
    op.create_index("ix_notices_shipment", "notices", ["shipment_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "shipment_id",
            sa.Integer,
            sa.ForeignKey("shipments.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("carrier", sa.String(64)),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_shipment", "audit_log", ["shipment_id", "at"])
    op.create_index("ix_audit_kind_at", "audit_log", ["kind", "at"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("notices")
    op.drop_table("tracking_events")
    op.drop_table("shipments")
