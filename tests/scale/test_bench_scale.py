"""Smoke test of bench/scale.py at a tiny N, so the benchmark cannot rot unnoticed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer

BENCH = Path(__file__).resolve().parents[2] / "bench" / "scale.py"
SMALL = ["--n", "3000", "--small", "600", "--due", "400", "--batch", "50", "--repeats", "3"]


def _run(*extra: str) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, str(BENCH), *SMALL, "--cycle", "120", *extra],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_scale_bench_runs_on_sqlite() -> None:
    [report] = _run("--db", "sqlite")
    assert report["db"] == "sqlite"
    cycle = report["poll_cycle"]
    assert isinstance(cycle, dict)
    assert cycle["polled"] == 120
    assert cycle["failed"] == 0
    # the cycle is whole: the polls queue notices, timers fire, every due notice goes out
    assert cycle["notices_queued"] > 0
    assert cycle["timers"] >= 120
    assert cycle["dispatched"] > 0
    assert cycle["maildir_messages"] == cycle["dispatched"]
    assert cycle["dispatch_failed"] == 0
    assert float(str(report["claim_ratio_warm"])) > 0
    assert float(str(report["claim_ratio_cold"])) > 0
    assert float(str(report["scrape_ratio"])) > 0


@pytest.mark.slow
@pytest.mark.postgres
def test_scale_bench_runs_on_postgresql(postgres_server: PostgresServer) -> None:
    [report] = _run("--db", "postgresql", "--pg-url", postgres_server.url())
    assert report["db"] == "postgresql"
    assert isinstance(report["poll_cycle"], dict)
    assert report["poll_cycle"]["polled"] >= 120
