"""The suppression list: addresses that opted out, so shipments stored later stay quiet too.

Revision ID: 0005_suppressions
Revises: 0004_shops
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from tracker.store.models import UTCDateTime

revision = "0005_suppressions"
down_revision = "0004_shops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("email", sa.String(254), primary_key=True),
        sa.Column("added_at", UTCDateTime, nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
    )
    # Buyers who opted out by email before the list existed join it, so the upgrade keeps what
    # they asked for (their audit rows say "by": "email"; an opt-out by number stays per parcel).
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT s.buyer_email, a.at, a.data FROM audit_log a"
            " JOIN shipments s ON s.id = a.shipment_id WHERE a.kind = 'shipment.opted_out'"
        )
    )
    first: dict[str, object] = {}
    for email, at, data in rows:
        fields = json.loads(data) if isinstance(data, str) else data
        if email and (fields or {}).get("by") == "email":
            first.setdefault(email.strip().lower(), at)
    if first:
        bind.execute(
            sa.text("INSERT INTO suppressions (email, added_at, source) VALUES (:e, :at, 'email')"),
            [{"e": email, "at": at} for email, at in first.items()],
        )


def downgrade() -> None:
    op.drop_table("suppressions")
