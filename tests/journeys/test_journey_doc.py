"""docs/journeys.md is the journey table, rendered."""

from __future__ import annotations

from tests.journeys import spec


def test_the_journey_doc_is_generated_from_the_table() -> None:
    assert spec.DOC.read_text(encoding="utf-8") == spec.render_doc(), (
        "docs/journeys.md is stale: run .venv/bin/python -m tests.journeys.spec --write"
    )
