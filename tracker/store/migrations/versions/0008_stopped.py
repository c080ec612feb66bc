"""When a seller stopped tracking a shipment (``tracker stop``, the ops view, a shop that took the
number back): a push or a late poll reply is then kept as history but never starts polls, timers
or buyer notices again. Until now a stop was only the absence of a next poll, which the next
recorded event undid.

Revision ID: 0008_stopped
Revises: 0007_reply_digest
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_stopped"
down_revision = "0007_reply_digest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("shipments", sa.Column("stopped_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("shipments", "stopped_at")
