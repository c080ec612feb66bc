"""A digest of each shipment's last carrier reply, so a poll recognises an unchanged reply without
building and comparing its events (issue 16; tracker.store.replies).

Revision ID: 0007_reply_digest
Revises: 0006_carrier_facts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_reply_digest"
down_revision = "0006_carrier_facts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("shipments", sa.Column("reply_digest", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("shipments", "reply_digest")
