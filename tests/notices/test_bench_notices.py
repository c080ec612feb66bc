"""Smoke test of bench/notices.py with a few notices, so the benchmark cannot rot unnoticed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "notices.py"


@pytest.mark.integration
def test_notice_bench_runs_and_prints_its_ratios() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--count", "16", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = dict(re.findall(r"^(.+?):\s+([\d.]+) ", done.stdout, re.MULTILINE))
    assert float(figures["ratio on CPU (plain / ours)"]) > 0
    assert float(figures["ours without the worker thread"]) > 0
    assert "load average before" in done.stdout
