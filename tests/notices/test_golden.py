"""The checked-in golden notices are exactly what the renderer writes today, for every kind,
situation and language; a wording change must come with its regenerated golden files (see
``tests/notices/golden.py`` for the command), so every change of what buyers read is reviewed."""

from __future__ import annotations

from pathlib import Path

import pytest

from notices.languages import supported_languages
from notices.render import NoticeRenderer, RenderedNotice
from tests.notices.golden import CASES, GOLDEN_DIR, context, render_all
from tests.notices.test_style import _language_slips, _problems

REGENERATE = "regenerate with: .venv/bin/python -m tests.notices.golden"


@pytest.fixture(scope="module")
def rendered() -> dict[Path, str]:
    return render_all(NoticeRenderer())


def test_every_kind_and_language_has_a_golden_file(rendered: dict[Path, str]) -> None:
    assert len(rendered) == len(CASES) * len(supported_languages())
    missing = sorted(str(p.relative_to(GOLDEN_DIR)) for p in rendered if not p.is_file())
    stale = sorted(
        str(p.relative_to(GOLDEN_DIR)) for p in set(GOLDEN_DIR.glob("*/*.txt")) - set(rendered)
    )
    assert (missing, stale) == ([], []), REGENERATE


@pytest.mark.parametrize("lang", supported_languages())
def test_golden_files_match_the_renderer(rendered: dict[Path, str], lang: str) -> None:
    changed = [
        str(path.relative_to(GOLDEN_DIR))
        for path, text in rendered.items()
        if path.parent.name == lang and path.is_file() and path.read_text("utf-8") != text
    ]
    assert changed == [], REGENERATE


@pytest.mark.parametrize("lang", supported_languages())
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_golden_notice_keeps_the_house_style(lang: str, case: object) -> None:
    renderer = NoticeRenderer()
    ctx = context(case, lang)  # type: ignore[arg-type]
    notice: RenderedNotice = renderer.render(ctx)
    assert _language_slips(ctx, notice) == []
    assert _problems(ctx, notice, renderer) == []
