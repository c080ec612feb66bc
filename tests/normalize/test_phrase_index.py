"""The anchor index must pick exactly the rule that trying every phrase in order would pick."""

from __future__ import annotations

import importlib.util
import json
import random
import unicodedata
from pathlib import Path

import pytest

from tracker.model import Classification, Status
from tracker.normalize import Normalizer, TextRule, fold, load_normalizer
from tracker.normalize.pattern import anchors as phrase_anchors
from tracker.normalize.pattern import beginnings as phrase_beginnings
from tracker.normalize.phrase_index import PhraseIndex

DEVSET = Path(__file__).with_name("devset.jsonl")
CORPUS = Path(__file__).with_name("corpus") / "corpus.jsonl"
BENCH = Path(__file__).resolve().parents[2] / "bench" / "classify.py"
_BASE = str.maketrans({"ł": "l", "đ": "d", "ø": "o", "œ": "oe", "æ": "ae", "ı": "i"})


def reference_fold(text: str) -> str:
    """The original definition: casefold, base letters, NFKD, combining marks dropped."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_BASE))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    return load_normalizer(cache_size=0)


def test_fast_fold_equals_reference_for_every_bmp_character() -> None:
    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c < 0xE000]
    mismatches = [ch for ch in chars if fold(ch) != reference_fold(ch)]
    assert mismatches == []
    for text in ("Ǽ Ø ǿ Ɫódź ÉCOLE", "Przesyłka DORĘCZONA", "ﬁnal ＡＢＣ ①", "Ёлка й", "𝐀x̃"):
        assert fold(text) == reference_fold(text), text


def _texts() -> list[str]:
    rows = [json.loads(line) for line in DEVSET.read_text("utf-8").splitlines() if line.strip()]
    texts = [row["text"] for row in rows if row["text"]]
    words = [word for text in texts for word in text.split()]
    rng = random.Random(11)
    noise = ["Moscow 101000", "São Paulo", "【深圳市】", "Łódź", "12.03.2024 14:05", "-", "x"]
    variants = list(texts)
    for text in texts:
        for _ in range(4):
            parts = [text]
            for _ in range(rng.randint(1, 3)):
                parts.insert(rng.randint(0, len(parts)), rng.choice(noise + words))
            variants.append(" ".join(parts))
    variants += [" ".join(rng.choices(words, k=rng.randint(1, 6))) for _ in range(2000)]
    return variants


def test_index_agrees_with_trying_every_phrase(normalizer: Normalizer) -> None:
    countries = [None, "CN", "RU", "BR", "DE", "FR", "PL", "NL", "IT", "ES", "US"]
    disagreements = []
    for i, text in enumerate(_texts()):
        country = countries[i % len(countries)]
        fast = normalizer.classify_text(text, country)
        slow = normalizer.classify_text_exhaustively(text, country)
        if fast != slow:
            disagreements.append((text, country, fast, slow))
    assert disagreements == []


def test_every_builtin_phrase_has_an_anchor(normalizer: Normalizer) -> None:
    # a phrase without one costs a regex search on every event
    assert normalizer.unanchored_phrases == 0


@pytest.mark.parametrize(
    ("pattern", "must_hold"),
    [
        ("delivered", {"delivered"}),
        ("return(ing)? to (the )?(sender|shipper)", {"return"}),
        ("(held|hold)( \\w+){0,2} (by|in) customs", {" customs"}),
        ("dut(y|ies)", {"duty", "duties"}),
        ("(?i)delivered", None),
        ("\\w+ed", {"ed"}),
        ("\\w+", None),
    ],
)
def test_phrase_anchors(pattern: str, must_hold: set[str] | None) -> None:
    anchors = phrase_anchors(pattern)
    if must_hold is None:
        assert anchors is None
    else:
        assert anchors is not None
        assert set(anchors) == must_hold


def test_ops_phrase_without_anchor_is_still_matched(tmp_path: Path) -> None:
    ops = tmp_path / "rules.toml"
    ops.write_text(
        '[[text]]\nid = "acme.code"\nstatus = "delivered"\nphrases = ["^\\\\d{6}$"]\n', "utf-8"
    )
    custom = load_normalizer([ops], cache_size=0)
    assert custom.unanchored_phrases == 1
    assert custom.classify_text("123456").rule == "acme.code"
    assert custom.classify_text("1234567").rule is None


_SEPARATORS = [" ", ", ", "-", "/", "'", "(", ")", "【", "】", "，", "🚚", "_", ".", ": ", "  "]
_SEPARATORS += ["\u00a0", "—", "«", "»", "1", "𠀀", "é", "Ё", "ß", "ﬁ"]


def _generated_texts(count: int, seed: int) -> list[str]:
    """Dev-set words and pieces of words glued with punctuation, scripts and odd characters."""
    rows = [json.loads(line) for line in DEVSET.read_text("utf-8").splitlines() if line.strip()]
    words = [word for row in rows if row["text"] for word in row["text"].split()]
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 7)):
            word = rng.choice(words)
            if rng.random() < 0.2:  # a piece of a word: compounds, glued words, cut-off text
                cut = rng.randint(0, len(word))
                word = word[:cut] if rng.random() < 0.5 else word[cut:]
            parts += [word, rng.choice(_SEPARATORS)]
        text = "".join(parts[:-1])
        texts.append(text.upper() if rng.random() < 0.2 else text)
    return texts


def test_index_agrees_on_generated_texts(normalizer: Normalizer) -> None:
    # the scans' hits stand for keys inside and overlapping them, and literal phrases are taken
    # as found without their regex: any slip there shows up as a disagreement
    countries = [None, "CN", "RU", "BR", "DE", "FR", "PL", "NL", "IT", "ES", "US", "de", "??"]
    disagreements = []
    for i, text in enumerate(_generated_texts(4000, seed=23)):
        country = countries[i % len(countries)]
        fast = normalizer.classify_text(text, country)
        slow = normalizer.classify_text_exhaustively(text, country)
        if fast != slow:
            disagreements.append((text, country, fast, slow))
    assert disagreements == []


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("delivered", True),
        ("Parcel: delivered.", True),
        ("🚚delivered", True),  # an emoji is not a word character: a word begins after it
        ("𠀀delivered", False),  # a CJK ideograph beyond the BMP is one: no word begins there
        ("𠀀 🚚 x🚚delivered𠀀", True),  # several, the text's other words around them
        ("𠀀🚚delivered", True),
        ("🚚𠀀delivered", False),
        ("undelivered", False),
        ("die Sendung wurde zugestellt", True),
        ("Hauptzollamt", True),  # German phrases match inside compounds
    ],
)
def test_word_starts_and_substrings(normalizer: Normalizer, text: str, matched: bool) -> None:
    fast = normalizer.classify_text(text)
    assert fast == normalizer.classify_text_exhaustively(text)
    assert (fast.rule is not None) is matched, fast


@pytest.mark.parametrize(
    ("pattern", "must_hold"),
    [
        ("a{,3}b", {"b"}),  # {,n} is a repeat, not literal text
        ("x{2}y{", {"xxy{"}),  # a brace without bounds is literal
        ("[a-c]x", {"ax", "bx", "cx"}),
        ("[^a]xyz", {"xyz"}),
        ("(?<!not )delivered", {"delivered"}),
        ("(?P<name>abc)", None),  # named groups: not followed, so nothing is promised
        ("ab\\ncd", {"ab"}),  # \n is not followed: only what surrounds it counts
    ],
)
def test_phrase_anchors_of_less_common_syntax(pattern: str, must_hold: set[str] | None) -> None:
    anchors = phrase_anchors(pattern)
    assert (None if anchors is None else set(anchors)) == must_hold


def _bench_lines(count: int) -> list[str]:
    """The cold workload of ``bench/classify.py``: real wordings with places and dates embedded."""
    spec = importlib.util.spec_from_file_location("bench_classify", BENCH)
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    lines: list[str] = bench.build_lines(count, cold=True)
    return lines


def test_index_agrees_on_corpus_dev_set_and_bench_texts(normalizer: Normalizer) -> None:
    # every labelled text and the benchmark's own texts, each with the country its row gives:
    # whatever the index does to be fast, it must decide as trying every phrase in order does
    rows = [
        json.loads(line)
        for path in (CORPUS, DEVSET)
        for line in path.read_text("utf-8").splitlines()
        if line.strip()
    ]
    rows += [json.loads(line) for line in _bench_lines(3000)]
    cases = [(row["text"], row.get("country")) for row in rows if row["text"]]
    assert len(cases) > 4500
    disagreements = [
        (text, country, fast, slow)
        for text, country in cases
        if (fast := normalizer.classify_text(text, country))
        != (slow := normalizer.classify_text_exhaustively(text, country))
    ]
    assert disagreements == []


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("delivered", ({"delivered"}, True)),
        ("return(ing)? to", ({"return to", "returning to"}, True)),
        # a group that is not exact still says how its matches begin
        ("(didn.t|did not) be", ({"didn", "did not"}, False)),
        ("(a|b\\w+)c", ({"a", "b"}, False)),
        ("ab(c|d.)+x", ({"abc", "abd"}, False)),
        ("x(\\w+ )?y", ({"x"}, False)),  # an optional part: nothing more is known
        ("(?<!parcel )locker", ({"locker"}, False)),  # a condition: the regex must confirm
        ("(\\w+) ed", None),  # no literal beginning
    ],
)
def test_phrase_beginnings(pattern: str, expected: tuple[set[str], bool] | None) -> None:
    found = phrase_beginnings(pattern)
    assert (None if found is None else (set(found[0]), found[1])) == expected


def test_a_word_start_phrase_holding_an_emoji_is_still_matched() -> None:
    # the word-start scan stands BMP characters in for ones beyond it: such a phrase is
    # indexed by its anchors instead, and still found
    rule = TextRule("text.en.boxed", "en", Status.DELIVERED, None, ("delivered 📦",))
    index = PhraseIndex((), (rule,))
    boxed = Classification(Status.DELIVERED, None, "text.en.boxed")
    assert index.match(fold("Parcel delivered 📦 today"), None, None) == boxed
    assert index.match(fold("Parcel delivered 📮"), None, None) is None
    assert index.match(fold("undelivered 📦"), None, None) is None  # not at a word start


def test_a_concept_is_looked_for_by_its_rarest_term() -> None:
    # "deliver" is in most English events: looked for, it would make the concept a candidate
    # (a regex run) on nearly every one; the index looks for "unable" and checks "deliver"
    rule = TextRule("text.en.failed", "en", Status.DELIVERY_FAILED, None, (), False,
                    (("deliver", "unable|could not"),))  # fmt: skip
    index = PhraseIndex((), (rule,))
    phrase = index._phrases[0]
    assert (phrase.folded, phrase.also) == ("unable|could not", ("deliver",))
    failed = Classification(Status.DELIVERY_FAILED, None, "text.en.failed")
    for text in ("We were unable to deliver", "Delivery: could not", "deliver unable"):
        assert index.match(fold(text), None, None) == failed, text
    for text in ("Delivered", "Unable to reach the office", "undeliverable, unable"):
        assert index.match(fold(text), None, None) == index.match_all(fold(text), ("en",)), text
    assert index.match(fold("Delivered"), None, None) is None
    # no common word holds either term: the author's order stands
    rule = TextRule("text.en.x", "en", Status.DELIVERY_FAILED, None, (), False,
                    (("qwerty", "zxcvb"),))  # fmt: skip
    assert PhraseIndex((), (rule,))._phrases[0].folded == "qwerty"


def test_a_phrase_is_matched_where_its_beginning_is_found() -> None:
    # the scan reports every place a beginning is found; the phrase's regex runs at those places
    # only, and sees the text before them (lookbehind) and after them as a search would
    ready = TextRule("text.en.ready", "en", Status.AVAILABLE_FOR_PICKUP, None,
                     ("(?<!not )ready for (pick ?-?up|collection)",))  # fmt: skip
    zoll = TextRule("text.de.zoll", "de", Status.IN_TRANSIT, None, ("zoll(amt|abfertigung)\\b",))
    index = PhraseIndex((), (ready, zoll))
    found = Classification(Status.AVAILABLE_FOR_PICKUP, None, "text.en.ready")
    cases = {
        "already ready for pickup": found,  # first inside a word ("already"), then a word
        "not ready for pickup, ready for collection": found,  # the second place matches
        "not ready for pickup": None,  # the lookbehind sees the text before the place
        "ready for delivery, unready for pickup": None,
        "Hauptzollamt Köln": Classification(Status.IN_TRANSIT, None, "text.de.zoll"),
        "Zollamtsblatt, Zollamt": Classification(Status.IN_TRANSIT, None, "text.de.zoll"),
        "Zollamtsblatt": None,
    }
    for text, expected in cases.items():
        assert index.match(fold(text), None, "DE") == expected, text
        assert index.match_all(fold(text), ("de", "en")) == expected, text


def test_a_concept_term_is_found_only_at_a_word_start() -> None:
    # the other term is searched for without \\b first (its first characters let the regex engine
    # skip ahead); a hit inside a word is not enough, a later one at a word start is
    rule = TextRule("text.en.failed", "en", Status.DELIVERY_FAILED, None, (), False,
                    (("attempt", "unable|could not"),))  # fmt: skip
    index = PhraseIndex((), (rule,))
    failed = Classification(Status.DELIVERY_FAILED, None, "text.en.failed")
    cases = {
        "Delivery attempt: we were unable to deliver": failed,
        "Delivery attempt made": None,
        "Attempt: Xunable": None,  # not at a word start
        "Attempt: Xunable, then unable": failed,
        "attempt, COULD NOT deliver": failed,
    }
    for text, expected in cases.items():
        assert index.match(fold(text), None, None) == expected, text
        assert index.match_all(fold(text), ("en",)) == expected, text
