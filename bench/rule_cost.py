"""What phrase rules cost on the cold benchmark texts: regex verifications that decide nothing.

Run: ``.venv/bin/python bench/rule_cost.py [N] [TOP]``. Classifies ``bench/classify.py``'s N cold
events (memo off) with every phrase's verification counted and lists the TOP phrases with the most
verifications that found nothing: a regex run on every event whose scans make the phrase a
candidate. Each row says what the phrase is indexed by (its beginnings, matched where the scan
finds one, or its anchors), which is what restating a rule changes.

``--against DIR`` instead times ``classify`` with the text rules of DIR (another tree's
``tracker/rules``) and with this tree's, on this engine and the same events, in alternating rounds
(CPU time per event): a rule change's cost without a second process's noise.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# this tree's code first (not an installed copy), and "classify" as bench.classify only
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from bench.classify import _raw, build_lines  # noqa: E402
from tracker.model import RawEvent  # noqa: E402
from tracker.normalize import Normalizer, load_normalizer, loader, pattern  # noqa: E402
from tracker.normalize.phrase_index import PhraseIndex  # noqa: E402
from tracker.normalize.rules import RuleSet  # noqa: E402

ROUNDS = 12


def _indexed_by(index: PhraseIndex) -> list[str]:
    """Each phrase's index entry: ``start:`` its beginnings (a regex match where one is found),
    ``anchor:`` its anchors (a regex search when one is found), or ``always``."""
    shown = []
    for phrase in index._phrases:  # the index's own choices, measured
        beginnings = pattern.beginnings(phrase.folded)
        if beginnings is not None:
            shown.append("start: " + "|".join(sorted(beginnings[0])))
            continue
        anchors = pattern.anchors(phrase.folded)
        shown.append("always" if anchors is None else "anchor: " + "|".join(sorted(anchors)))
    return shown


def count(n: int, top: int) -> None:
    """Count verifications, hits and decisions per phrase; print the costliest."""
    normalizer = load_normalizer(cache_size=0)
    index: PhraseIndex = normalizer._phrases
    phrases = index._phrases
    tried: Counter[int] = Counter()
    found: Counter[int] = Counter()

    def counting(i: int) -> Callable[[str], object]:
        def verify(folded: str) -> object:
            tried[i] += 1
            hit = phrases[i].search(folded)
            found[i] += hit
            return hit

        return verify

    found_at = index._found_at

    def counting_found_at(
        i: int, keys: frozenset[int], folded: str, hits: list[tuple[int, int, int]]
    ) -> bool:
        tried[i] += 1
        hit = found_at(i, keys, folded, hits)
        found[i] += hit
        return hit

    index._verify[:] = [counting(i) for i in range(len(phrases))]
    setattr(index, "_found_at", counting_found_at)  # noqa: B010 (a method replaced: counted)
    decided: Counter[str] = Counter()
    for raw in _cold_events(n):
        decided[normalizer.classify(raw).rule or ""] += 1
    indexed = _indexed_by(index)
    print(
        f"{n} cold events: {sum(tried.values()) / n:.2f} verifications per event, "
        f"{sum(found.values()) / n:.2f} of them found"
    )
    print(f"{'failed':>7} {'tried':>6} {'found':>6} {'decides':>8}  rule  phrase  [indexed by]")
    for i in sorted(tried, key=lambda i: tried[i] - found[i], reverse=True)[:top]:
        phrase = phrases[i]
        rule = phrase.result.rule or ""
        also = f" + {phrase.also!r}" if phrase.also else ""
        print(
            f"{tried[i] - found[i]:7} {tried[i]:6} {found[i]:6} {decided[rule]:8}  "
            f"{rule}  {phrase.folded!r}{also}  [{indexed[i]}]"
        )


def compare(n: int, other_rules: Path) -> None:
    """``classify`` per event with DIR's text rules and with this tree's, alternately."""
    this = loader.load_builtin_rules()
    other = this.copy()
    other.text = []
    for path in sorted(other_rules.glob("text_*.toml")):
        name = f"tracker/rules/{path.name}"
        data = loader._parse(path.read_text("utf-8"), name)
        other.text.extend(loader._builtin_text_rules(data, name))
    raws = _cold_events(n)
    times: dict[str, list[float]] = {str(other_rules): [], "this tree": []}
    runs: list[tuple[str, RuleSet]] = [(str(other_rules), other), ("this tree", this)]
    for round_ in range(ROUNDS):
        for name, rules in runs if round_ % 2 == 0 else runs[::-1]:
            normalizer = Normalizer(rules, cache_size=0)
            start = time.process_time()
            for raw in raws:
                normalizer.classify(raw)
            times[name].append((time.process_time() - start) / n * 1e6)
    print(f"classify, {n} cold events, memo off, {ROUNDS} alternating rounds, CPU us per event")
    for name, values in times.items():
        print(
            f"  {name}: best {min(values):.2f}, median {statistics.median(values):.2f}  "
            + " ".join(f"{v:.2f}" for v in values)
        )


def _cold_events(n: int) -> list[RawEvent]:
    return [_raw(json.loads(line)) for line in build_lines(n, cold=True)]


def main() -> None:
    """``[N] [TOP]``, or ``[N] --against DIR``."""
    args = sys.argv[1:]
    against = None
    if "--against" in args:
        at = args.index("--against")
        against = Path(args[at + 1])
        del args[at : at + 2]
    n = int(args[0]) if args else 20_000
    if against is not None:
        compare(n, against)
    else:
        count(n, int(args[1]) if len(args) > 1 else 40)


if __name__ == "__main__":
    main()
