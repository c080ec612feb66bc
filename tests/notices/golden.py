"""Golden renderings: every notice kind (and situation variant) in every language, as text.

Each file under ``tests/notices/golden/<lang>/`` is exactly what a buyer reads (subject and
plain-text body) for the language's sample buyer, on fixed dates, so a wording change shows up
as a reviewable diff. ``tests/notices/test_golden.py`` compares them; after a deliberate change,
regenerate them with::

    .venv/bin/python -m tests.notices.golden

and read the diff sentence by sentence before committing it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from notices.context import EventSummary, NoticeContext, StoreIdentity
from notices.languages import supported_languages
from notices.render import NoticeRenderer
from notices.strings import sample_buyer
from tracker.model import Detail, Milestone, Status

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
SHIPPED = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)
STORE = StoreIdentity(
    name="Gadget Corner", signature=None, support_url="https://gadgets.example/help"
)


@dataclass(frozen=True)
class Case:
    """One golden notice: its kind, situation and the event it quotes."""

    name: str
    kind: Milestone
    day: int  # days after shipping of the quoted event
    text: str
    where: str  # origin, exchange or local
    status: Status
    detail: Detail | None
    situation: str | None = None
    reason: str | None = None
    as_of_day: int | None = None  # when the notice became due, if later than the event
    carrier_estimate: bool = False  # the date is the carrier's own, told as theirs


CASES = (
    Case("shipped", Milestone.SHIPPED, 1, "Item accepted at post office", "origin",
         Status.IN_TRANSIT, Detail.ACCEPTED),
    Case("in_transit", Milestone.IN_TRANSIT, 7, "Arrived at inward office of exchange",
         "exchange", Status.IN_TRANSIT, Detail.ARRIVED_DESTINATION_COUNTRY),
    Case("in_transit_carrier_estimate", Milestone.IN_TRANSIT, 7,
         "Arrived at inward office of exchange", "exchange", Status.IN_TRANSIT,
         Detail.ARRIVED_DESTINATION_COUNTRY, carrier_estimate=True),
    Case("delayed", Milestone.DELAYED, 8, "Presented to import customs", "exchange",
         Status.IN_TRANSIT, Detail.CUSTOMS_PROCESSING, reason="customs", as_of_day=22),
    Case("delayed_stalled", Milestone.DELAYED, 3, "Departed from outward office of exchange",
         "origin", Status.IN_TRANSIT, None, reason="stalled", as_of_day=22),
    Case("customs_action", Milestone.CUSTOMS_ACTION, 9, "Held by customs: documents required",
         "exchange", Status.EXCEPTION, Detail.CUSTOMS_HOLD),
    Case("customs_duties", Milestone.CUSTOMS_ACTION, 9, "Import duties payable", "exchange",
         Status.EXCEPTION, Detail.CUSTOMS_DUTIES_DUE),
    Case("arrived_locally", Milestone.ARRIVED_LOCALLY, 14, "Arrived at delivery office",
         "local", Status.IN_TRANSIT, Detail.ARRIVED_DELIVERY_OFFICE),
    Case("delivered", Milestone.DELIVERED, 16, "Delivered to recipient", "local",
         Status.DELIVERED, None),
    Case("satisfaction", Milestone.SATISFACTION, 16, "Delivered to recipient", "local",
         Status.DELIVERED, None),
    Case("refund_offer", Milestone.REFUND_OFFER, 30, "Presented to import customs", "exchange",
         Status.IN_TRANSIT, Detail.CUSTOMS_PROCESSING, as_of_day=45),
    Case("refund_offer_carrier_estimate", Milestone.REFUND_OFFER, 30,
         "Presented to import customs", "exchange", Status.IN_TRANSIT,
         Detail.CUSTOMS_PROCESSING, as_of_day=45, carrier_estimate=True),
    Case("refund_returned", Milestone.REFUND_OFFER, 40, "Item returned to sender", "origin",
         Status.RETURNED, None, situation="returned"),
    Case("refund_lost", Milestone.REFUND_OFFER, 40, "Item lost", "exchange",
         Status.EXCEPTION, Detail.LOST, situation="lost"),
    Case("attempt", Milestone.ARRIVED_LOCALLY, 15, "Delivery attempted, addressee absent",
         "local", Status.DELIVERY_FAILED, Detail.RECIPIENT_UNAVAILABLE,
         situation="delivery_failed"),
    Case("pickup", Milestone.ARRIVED_LOCALLY, 15, "Item available for pickup", "local",
         Status.AVAILABLE_FOR_PICKUP, Detail.ARRIVED_DELIVERY_OFFICE, situation="pickup"),
    Case("pickup_reminder", Milestone.ARRIVED_LOCALLY, 15, "Item available for pickup", "local",
         Status.AVAILABLE_FOR_PICKUP, Detail.ARRIVED_DELIVERY_OFFICE,
         situation="pickup_reminder", as_of_day=22),
)  # fmt: skip


def context(case: Case, lang: str) -> NoticeContext:
    """The golden context of ``case`` for ``lang``'s sample buyer."""
    buyer = sample_buyer(lang)
    place, country = {
        "origin": ("Shenzhen", "CN"),
        "exchange": (buyer["exchange"], buyer["country"]),
        "local": (buyer["local"], buyer["country"]),
    }[case.where]
    occurred = SHIPPED + timedelta(days=case.day, hours=3)
    event = EventSummary(occurred, case.text, place, country, case.status, case.detail)
    pickup = case.situation in ("pickup", "pickup_reminder")
    as_of = SHIPPED + timedelta(days=case.as_of_day or case.day, hours=4)
    # a late parcel's promise moves: the policy gives a new date after the notice's moment
    expected_by = max(date(2026, 3, 11), (as_of + timedelta(days=12)).date())
    return NoticeContext(
        kind=case.kind,
        language=lang,
        buyer_name=buyer["name"],
        buyer_email="buyer@example.com",
        tracking_number="RR123456785CN",
        carrier_name="China Post",
        tracking_url="https://track.gadgets.example/RR123456785CN",
        destination_country=buyer["country"],
        origin_country="CN",
        order_reference="GC-1001",
        shipped_at=SHIPPED,
        latest_event=event,
        expected_from=None if case.carrier_estimate else date(2026, 3, 1),
        expected_by=expected_by,
        choices=("keep_waiting", "resend", "refund")
        if case.situation is None
        else ("resend", "refund"),
        reason=case.reason,
        store=STORE,
        situation=case.situation,
        pickup_until=(SHIPPED + timedelta(days=29)).date() if pickup else None,
        as_of=as_of,
        carrier_estimate=case.carrier_estimate,
    )


def render_all(renderer: NoticeRenderer) -> dict[Path, str]:
    """Every golden file's path and content."""
    files = {}
    for lang in supported_languages():
        for case in CASES:
            notice = renderer.render(context(case, lang))
            path = GOLDEN_DIR / lang / f"{case.name}.txt"
            files[path] = f"Subject: {notice.subject}\n\n{notice.text}"
    return files


def main() -> int:
    """Write every golden file, removing ones no case produces any more."""
    files = render_all(NoticeRenderer())
    for stale in set(GOLDEN_DIR.glob("*/*.txt")) - set(files):
        stale.unlink()
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    print(f"wrote {len(files)} golden notices to {GOLDEN_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
