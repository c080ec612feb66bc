"""House style, tested: every kind x every language x several scenarios.

A notice fails when it shouts (a line in capitals), does not thank first, misses the tracking
number or a link, leaks English into another language, leaves a placeholder unrendered, has a
sentence longer than ``max_sentence_words`` in ``notices/data/style.toml``, puts a country name in
brackets, ends a sentence with a double stop ("г.."), or addresses the reader with a form that is
masculine only (``MASCULINE_ONLY`` below; wording is gender-neutral in every language).
"""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from notices.compose import country_name
from notices.context import EventSummary, NoticeContext
from notices.countries import DATA_DIR
from notices.languages import base_of, supported_languages
from notices.render import NoticeRenderer, RenderedNotice
from tests.notices.conftest import CURITIBA, make_context
from tracker.model import Detail, Milestone, Status

MAX_WORDS: int = tomllib.loads((DATA_DIR / "style.toml").read_text("utf-8"))["max_sentence_words"]

THANKS = {
    "en": ("thank",),
    "es": ("gracias",),
    "pt": ("obrigad", "agradec"),
    "ru": ("спасибо",),
    "fr": ("merci",),
    "de": ("dank",),
    "it": ("grazie",),
    "pl": ("dziękuj",),
}

#: words that address the reader as a man (or a group of men) where a neutral form exists; the
#: issue that asked for neutral wording found several of these in real notices
MASCULINE_ONLY = {
    "pl": ("składałeś", "czekałeś", "czekał", "zamówiłeś", "otrzymałeś", "kontaktowali",
           "zadowolony", "drogi kliencie", "szanowny"),
    "pt": ("prezado", "caro cliente", "satisfeito", "avisá-lo", "contactá-lo", "informá-lo"),
    "es": ("estimado", "satisfecho", "interesado", "bienvenido", "querido cliente"),
    "fr": ("cher client", "satisfait", "le bienvenu", "intéressé", "ravi de"),
    "it": ("caro cliente", "soddisfatto", "benvenuto", "interessato"),
    "ru": ("уважаемый", "дорогой покупатель", "рад", "уверен"),
    "de": ("lieber kunde", "sehr geehrter", "zufriedener kunde"),
}  # fmt: skip

#: the ways a notice may leave a country name in brackets, e.g. "(Brasil)" after a noun
_BRACKETED = re.compile(r"\(([^()]*)\)")
#: "2024 г.." - a full stop after an abbreviation's own stop (an ellipsis "..." is fine)
_DOUBLE_STOP = re.compile(r".{0,30}[^.]\.\.(?!\.)")


def _scenarios() -> dict[str, dict[str, object]]:
    hold = replace(
        CURITIBA,
        text="HELD BY CUSTOMS - DUTIES PAYABLE",
        status=Status.EXCEPTION,
        detail=Detail.CUSTOMS_DUTIES_DUE,
    )
    long_place = replace(
        CURITIBA,
        place=(
            "Centro Internacional de Tratamento de Encomendas"
            " de São José dos Pinhais e Região Metropolitana"
        ),
    )
    pickup = replace(
        CURITIBA,
        text="Objeto aguardando retirada no endereço indicado",
        status=Status.AVAILABLE_FOR_PICKUP,
        detail=Detail.ARRIVED_DELIVERY_OFFICE,
    )
    return {
        "normal": {},
        "customs_hold_with_duties": {"latest_event": hold},
        "stalled": {"reason": "stalled", "expected_from": None},
        "no_latest_event": {"latest_event": None, "expected_from": None, "expected_by": None},
        "long_place_names": {"latest_event": long_place},
        "buyer_name_with_html": {"buyer_name": "<b>Ana</b> & <script>alert(1)</script>"},
        "pickup_late": {"latest_event": pickup, "reason": "late"},
        "domestic_no_expected": {"origin_country": "BR", "expected_by": None},
    }


SCENARIOS = _scenarios()


def _context(kind: Milestone, lang: str, scenario: str) -> NoticeContext:
    ctx = make_context(kind, language=lang, **SCENARIOS[scenario])
    if kind is Milestone.DELAYED and ctx.reason is None:
        ctx = replace(ctx, reason="exception")
    if kind is not Milestone.DELAYED:
        ctx = replace(ctx, reason=None)
    return ctx


class _TextOf(HTMLParser):
    """Visible text of the HTML part, one entry per block element."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = [""]
        self.hrefs: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("title", "style", "script"):
            self._skip += 1
        if tag == "a":
            self.hrefs.extend(v for k, v in attrs if k == "href" and v)
        if tag in ("p", "li", "h2", "div", "br", "td"):
            self.blocks.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("title", "style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.blocks[-1] += data


def _html_blocks(html: str) -> tuple[list[str], list[str]]:
    parser = _TextOf()
    parser.feed(html)
    return [b.strip() for b in parser.blocks if b.strip()], parser.hrefs


URL = re.compile(r"https?://\S+")


def _sentences(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        line = URL.sub("URL", line)
        out.extend(s for s in re.split(r"(?<=[.!?…])\s+", line) if s.strip())
    return out


def _shouting(line: str) -> bool:
    words = [w for w in re.findall(r"[^\W\d_]{2,}", line)]
    return len(words) >= 3 and all(w.isupper() for w in words)


def _english_fragments(renderer: NoticeRenderer) -> set[str]:
    """Literal pieces of English strings long enough that a translation would never keep them."""
    fragments = set()
    for template in renderer.catalog.language("en").values():
        for literal, *_ in string.Formatter().parse(template):
            piece = literal.strip(" ,.:;!?()")
            if len(piece.split()) >= 2 and len(piece) >= 10:
                fragments.add(piece)
    return fragments


def _problems(ctx: NoticeContext, notice: RenderedNotice, renderer: NoticeRenderer) -> list[str]:
    problems = []
    text_lines = [line.strip() for line in notice.text.splitlines() if line.strip()]
    html_blocks, hrefs = _html_blocks(notice.html)
    for part, lines in (("subject", [notice.subject]), ("text", text_lines), ("html", html_blocks)):
        for line in lines:
            if _shouting(line):
                problems.append(f"{part}: line in capitals: {line!r}")
            if any(mark in line for mark in ("{{", "}}", "{%", "%}", "{#")) or re.search(
                r"\{[a-z_]+\}", line
            ):
                problems.append(f"{part}: unrendered placeholder: {line!r}")
        for sentence in _sentences(lines):
            if len(sentence.split()) > MAX_WORDS:
                problems.append(f"{part}: sentence of {len(sentence.split())} words: {sentence!r}")
        body = lines if part != "subject" else []
        if body:
            opening = body[1] if len(body) > 1 else ""
            if not any(word in opening.casefold() for word in THANKS[base_of(ctx.language)]):
                problems.append(f"{part}: does not thank first: {opening!r}")
            if not any(ctx.tracking_number in line for line in body):
                problems.append(f"{part}: tracking number missing")
    if ctx.tracking_url and ctx.tracking_url not in notice.text:
        problems.append("text: tracking link missing")
    if ctx.tracking_url and ctx.tracking_url not in hrefs:
        problems.append("html: tracking link missing")
    meaning = renderer.catalog.raw(ctx.language, "meaning.heading")
    # customs steps and pickup or attempt instructions are their own explanation
    says_itself = ctx.kind is Milestone.CUSTOMS_ACTION or ctx.situation in (
        "delivery_failed",
        "pickup",
        "pickup_reminder",
    )
    if ctx.latest_event is not None and not says_itself and meaning not in notice.text:
        problems.append("text: no plain explanation of the latest event")
    problems.extend(_language_slips(ctx, notice))
    if ctx.language != "en":
        for fragment in _english_fragments(renderer):
            if fragment in notice.text or fragment in notice.subject:
                problems.append(f"untranslated English: {fragment!r}")
    return problems


def _language_slips(ctx: NoticeContext, notice: RenderedNotice) -> list[str]:
    """Slips a native reader notices: a bracketed country, a double stop, a masculine-only form."""
    problems = []
    countries = {
        name.casefold()
        for code in {ctx.destination_country, ctx.origin_country} - {None}
        for name in (country_name(code, ctx.language), code or "")
    }
    for text in (notice.subject, notice.text):
        for inside in _BRACKETED.findall(text):
            if inside.strip().casefold() in countries:
                problems.append(f"country name in brackets: ({inside})")
        double = _DOUBLE_STOP.search(text)
        if double:
            problems.append(f"double stop: {double.group(0)!r}")
        lowered = text.casefold()
        for form in MASCULINE_ONLY.get(base_of(ctx.language), ()):
            if re.search(rf"(?<!\w){re.escape(form)}(?!\w)", lowered):
                problems.append(f"masculine-only form {form!r}")
    return problems


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("lang", supported_languages())
@pytest.mark.parametrize("kind", list(Milestone))
def test_notice_style(renderer: NoticeRenderer, kind: Milestone, lang: str, scenario: str) -> None:
    ctx = _context(kind, lang, scenario)
    notice = renderer.render(ctx)
    assert _problems(ctx, notice, renderer) == []


def test_the_checks_catch_bad_notices(renderer: NoticeRenderer) -> None:
    """The style checks themselves must be able to fail."""
    ctx = make_context(Milestone.SHIPPED, language="de")
    good = renderer.render(ctx)
    long_sentence = " ".join(["Wort"] * (MAX_WORDS + 1)) + "."
    english = renderer.catalog.raw("en", "common.close_question")
    bad = RenderedNotice(
        subject="IHRE BESTELLUNG IST DA",
        text=good.text.replace("Danke", "Hallo {{ name }}")
        + f"\n{long_sentence}\n{english}\n"
        + "Sehr geehrter Kunde, Ihr Paket ist im Zielland (Brasilien).\n"
        + "Zustellung bis 5. März 2024 г..\n",
        html=good.html.replace(ctx.tracking_url or "", "https://elsewhere.example/"),
    )
    problems = "\n".join(_problems(ctx, bad, renderer))
    for expected in (
        "subject: line in capitals",
        "text: unrendered placeholder",
        "text: does not thank first",
        f"sentence of {MAX_WORDS + 1} words",
        "untranslated English",
        "html: tracking link missing",
        "country name in brackets: (Brasilien)",
        "double stop",
        "masculine-only form 'sehr geehrter'",
    ):
        assert expected in problems


def test_every_language_has_every_string(renderer: NoticeRenderer) -> None:
    assert renderer.catalog.languages == supported_languages()


def test_shouting_carrier_text_is_shown_in_normal_case(renderer: NoticeRenderer) -> None:
    event = EventSummary(
        datetime(2026, 3, 1, tzinfo=UTC), "ARRIVED AT SORTING CENTER", None, "RU",
        Status.IN_TRANSIT, None,
    )  # fmt: skip
    notice = renderer.render(make_context(Milestone.IN_TRANSIT, latest_event=event))
    assert "Arrived at sorting center" in notice.text
    assert "ARRIVED" not in notice.text
