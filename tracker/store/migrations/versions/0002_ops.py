"""Daemon heartbeats: each running daemon records when it last ran its jobs, for ``tracker status``.

Revision ID: 0002_ops
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tracker.store.models import UTCDateTime

revision = "0002_ops"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daemon_heartbeats",
        sa.Column("owner", sa.String(80), primary_key=True),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("beat_at", UTCDateTime, nullable=False),
        sa.Column("interval_seconds", sa.Float, nullable=False),
        sa.Column("config_digest", sa.String(20), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_daemon_heartbeats_beat_at", "daemon_heartbeats", ["beat_at"])


def downgrade() -> None:
    op.drop_table("daemon_heartbeats")
