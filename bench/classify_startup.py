"""What building a classifier costs: a cold process, and a second ``Normalizer`` in the same one.

Run: ``.venv/bin/python bench/classify_startup.py [ROUNDS]``. Measured side by side, best of
ROUNDS runs each, in CPU time (user + system, of the child process for the cold runs), which a
shared, busy machine disturbs far less than wall time:

* ``python -c pass``: the floor any process pays;
* ``classify command, 1 event``: a fresh interpreter imports ``tracker.commands.classify``,
  builds the normalizer and classifies one event (what ``tracker classify`` costs once the CLI
  imports only the command it runs);
* ``tracker classify, 1 event``: the console script end to end, CLI imports included;
* in one process: the first ``load_normalizer()`` (rule files read, phrase index built) and a
  second one (the index is cached per process), as a ratio to the first.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from tracker.normalize import load_normalizer

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
TRACKER = str(Path(PYTHON).with_name("tracker"))
EVENT = '{"carrier": "usps", "code": null, "text": "Delivered, In/At Mailbox"}\n'

COMMAND_ONLY = """
import io, sys
from tracker.commands.classify import run
from tracker.normalize import load_normalizer
run(load_normalizer(), io.StringIO(sys.argv[1]), io.StringIO(), sys.stderr, "en")
"""

IN_PROCESS = """
import time
t0 = time.process_time()
from tracker.normalize import load_normalizer
t1 = time.process_time()
load_normalizer()
t2 = time.process_time()
load_normalizer()
t3 = time.process_time()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def _cpu(argv: list[str], stdin: str = "") -> float:
    """CPU seconds (user + system) the child process spent."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, input=stdin, text=True, check=True, capture_output=True, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    load_normalizer()  # warm the file cache once, so every round reads the same way
    runs: dict[str, list[float]] = {
        "python -c pass": [],
        "classify command, 1 event": [],
        "tracker classify, 1 event": [],
    }
    imports: list[float] = []
    firsts: list[float] = []
    seconds: list[float] = []
    for _ in range(rounds):  # interleaved, so a busy moment hits every measurement alike
        runs["python -c pass"].append(_cpu([PYTHON, "-c", "pass"]))
        runs["classify command, 1 event"].append(_cpu([PYTHON, "-c", COMMAND_ONLY, EVENT]))
        runs["tracker classify, 1 event"].append(_cpu([TRACKER, "classify"], EVENT))
        out = subprocess.run(
            [PYTHON, "-c", IN_PROCESS], text=True, check=True, capture_output=True, cwd=ROOT
        ).stdout.split()
        imports.append(float(out[0]))
        firsts.append(float(out[1]))
        seconds.append(float(out[2]))
    floor = min(runs["python -c pass"])
    print(f"best of {rounds} rounds, CPU time")
    for name, values in runs.items():
        best = min(values)
        print(f"  {name:28} {best * 1e3:8.1f} ms  ratio to python -c pass {best / floor:6.1f}")
    first = min(firsts)
    print("in one process:")
    print(f"  {'import tracker.normalize':28} {min(imports) * 1e3:8.1f} ms")
    print(f"  {'first load_normalizer()':28} {first * 1e3:8.1f} ms  ratio 1.00")
    second = min(seconds)
    print(f"  {'second load_normalizer()':28} {second * 1e3:8.2f} ms  ratio {second / first:.4f}")


if __name__ == "__main__":
    main()
