"""What each ``tracker`` command costs to start, as a ratio to ``python -c pass``.

Run: ``.venv/bin/python bench/cli_startup.py [ROUNDS]``. Every command runs as the console
script in a fresh process; the commands are measured interleaved (one of each per round), so a
busy moment on the shared machine hits them all alike, and the best of ROUNDS wall-clock runs is
kept. The store the reading commands open is a real SQLite store with one shipment, made once in
a temporary folder before the rounds.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
TRACKER = str(Path(PYTHON).with_name("tracker"))
NUMBER = "SBNM00000001"
EVENT = '{"carrier": "usps", "code": null, "text": "Delivered, In/At Mailbox"}\n'


def _wall(argv: list[str], stdin: str, cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, input=stdin, text=True, check=True, capture_output=True, cwd=cwd)
    return time.perf_counter() - t0


def _prepare(folder: Path) -> Path:
    """A config whose store holds one shipment (made through the CLI, as a seller would)."""
    config = folder / "tracker.toml"
    config.write_text('[store]\nurl = "sqlite:///tracker.sqlite3"\n', encoding="utf-8")
    add = [TRACKER, "add", NUMBER, "--carrier", "sandbox", "--email", "ana@example.com"]
    add += ["--name", "Ana Souza", "--country", "BR", "--order", "ORD-1"]
    add += ["--shipped", "2026-11-20", "--config", str(config)]
    subprocess.run(add, check=True, capture_output=True, cwd=folder)
    return config


def _commands(config: Path) -> dict[str, tuple[list[str], str]]:
    with_config = ["--config", str(config)]
    return {
        "python -c pass": ([PYTHON, "-c", "pass"], ""),
        "tracker --help": ([TRACKER, "--help"], ""),
        "tracker detect": ([TRACKER, "detect", "RB473124829BR"], ""),
        "tracker show": ([TRACKER, "show", NUMBER, *with_config], ""),
        "tracker status": ([TRACKER, "status", "--json", *with_config], ""),
        "tracker events": ([TRACKER, "events", *with_config], ""),
        "tracker check-config": ([TRACKER, "check-config", str(config)], ""),
        "tracker classify, 1 event": ([TRACKER, "classify"], EVENT),
    }


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        commands = _commands(_prepare(folder))
        runs: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, (argv, stdin) in commands.items():
                # status exits 1 (no daemon heartbeat) by design; the time is what counts
                if name == "tracker status":
                    t0 = time.perf_counter()
                    subprocess.run(argv, capture_output=True, cwd=folder, check=False)
                    runs[name].append(time.perf_counter() - t0)
                else:
                    runs[name].append(_wall(argv, stdin, folder))
    floor = min(runs["python -c pass"])
    print(f"best of {rounds} interleaved rounds, wall clock, each command a fresh process")
    for name, values in runs.items():
        best = min(values)
        print(f"  {name:28} {best * 1e3:8.1f} ms  ratio to python -c pass {best / floor:6.1f}")


if __name__ == "__main__":
    main()
