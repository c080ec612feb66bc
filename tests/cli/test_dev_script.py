"""``./dev`` says what it is doing while it sets up .venv/ (issue 13, item 17): a line per step
everywhere, which package pip is at on a terminal only (CI logs and ``./dev test`` output stay
short), pip's whole output in .venv/install.log, and that log on stderr when installing fails.

The script runs for real in a scratch folder; a stand-in for python3 and pip answers ``-m venv``
and ``-m pip`` (printing lines as pip does) so no package index is reached.
"""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
STAND_IN = """#!/usr/bin/env bash
case "$1 $2" in
  "-m venv") mkdir -p "$3/bin" && cp "$0" "$3/bin/python" ;;
  "-m pip")
    echo "Collecting alpha"
    echo "  Downloading alpha-1.0-py3-none-any.whl (10 kB)"
    echo "Collecting beta"
    echo "Installing collected packages: alpha, beta"
    [ -z "${FAIL_PIP:-}" ] || { echo "ERROR: No matching distribution found for gamma"; exit 1; }
    echo "Successfully installed alpha-1.0 beta-2.0" ;;
  "-m pytest") shift 2; echo "pytest ran with: $*" ;;
esac
"""
STEPS = [
    "setup: installing into .venv/ (first run, or pyproject.toml changed; about two minutes; "
    "log: .venv/install.log)",
    "setup: 1/2 upgrading pip",
    "setup: 2/2 installing the project and its dependencies",
]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    shutil.copy(REPO / "dev", tmp_path / "dev")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    python = tmp_path / "python3"
    python.write_text(STAND_IN)
    python.chmod(0o755)
    return tmp_path


def run_dev(checkout: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHON": str(checkout / "python3"), **env}
    return subprocess.run(
        [str(checkout / "dev"), *args],
        cwd=checkout,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_each_step_is_one_line_and_pip_stays_in_the_log(checkout: Path) -> None:
    first = run_dev(checkout, "test", "-q")
    assert first.returncode == 0, first.stderr
    lines = first.stderr.splitlines()
    assert lines[0] == f"setup: creating .venv/ with {checkout / 'python3'}"
    assert lines[1:-1] == STEPS
    assert lines[-1].startswith("setup: installed in ")
    assert first.stdout == "pytest ran with: -q\n"
    log = (checkout / ".venv" / "install.log").read_text()
    assert "Collecting beta" in log
    assert "Successfully installed alpha-1.0 beta-2.0" in log

    again = run_dev(checkout, "test", "-q")
    assert (again.returncode, again.stderr) == (0, "")  # set up already: nothing to say


def test_a_terminal_sees_which_package_pip_is_at(checkout: Path) -> None:
    leader, follower = pty.openpty()
    try:
        environ = {**os.environ, "PYTHON": str(checkout / "python3")}
        done = subprocess.run(
            [str(checkout / "dev"), "test"],
            cwd=checkout,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=60,
            check=False,
        )
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: everything was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0
    text = shown.decode()
    assert "\r\x1b[K  [2] Collecting beta" in text
    assert "[2] Successfully installed alpha-1.0 beta-2.0" in text
    assert "setup: 2/2 installing the project and its dependencies" in text


def test_a_failed_install_prints_the_log_and_stops(checkout: Path) -> None:
    failed = run_dev(checkout, "test", FAIL_PIP="1")
    assert failed.returncode == 1
    assert "ERROR: No matching distribution found for gamma" in failed.stderr
    assert "dependency installation failed; the full log is in .venv/install.log" in failed.stderr
    assert failed.stdout == ""
    assert not list((checkout / ".venv").glob(".installed-*"))  # the next run tries again
