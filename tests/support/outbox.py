"""Outbox rows for tests that need a notice waiting without running the policy that queues one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tracker.store.models import Notice


def pending_notice(
    shipment_id: int, at: datetime, *, key: str = "shipped", **columns: Any
) -> Notice:
    """A pending "shipped" notice created at ``at`` and due then; keywords set other columns."""
    values: dict[str, Any] = {
        "shipment_id": shipment_id,
        "kind": "shipped",
        "idempotency_key": f"{shipment_id}:{key}",
        "state": "pending",
        "payload": {},
        "created_at": at,
        "not_before": at,
        "attempts": 0,
        **columns,
    }
    return Notice(**values)
