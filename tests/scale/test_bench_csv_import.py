"""Smoke test of bench/csv_import.py with a few hundred rows, so the benchmark cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "csv_import.py"


@pytest.mark.slow
def test_csv_import_bench_runs_both_sides() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--rows", "300"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (report,) = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    for side in ("baseline", "current"):
        assert report[side]["exit"] == 0, report  # the first bad row is number 1,000
        assert report[side]["summary"] == "imported 300 shipment(s), rejected 0 row(s)"
    assert float(report["time_ratio"]) > 0
    assert float(report["rss_ratio"]) > 0
