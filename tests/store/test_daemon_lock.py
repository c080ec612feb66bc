"""SQLite is single-daemon: a second daemon on the same file is refused, naming the lock holder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tracker.errors import StoreError
from tracker.store.daemonlock import lock_path, single_daemon, sqlite_path


def test_second_daemon_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    with single_daemon(url) as held:
        assert held == tmp_path / "tracker.sqlite3.daemon.lock"
        assert held.read_text().strip() == str(os.getpid())
        with (
            pytest.raises(StoreError, match=rf"pid {os.getpid()}\).*{held.name}"),
            single_daemon(url),
        ):
            pass
    with single_daemon(url):  # released on exit: the next daemon may start
        pass


def test_postgresql_and_memory_urls_need_no_lock() -> None:
    assert sqlite_path("postgresql://u@127.0.0.1/db") is None
    assert sqlite_path("sqlite://") is None
    with single_daemon("postgresql://u@127.0.0.1:1/db") as held:
        assert held is None


@pytest.mark.integration
def test_tracker_run_refuses_a_file_another_daemon_holds(tmp_path: Path) -> None:
    database = tmp_path / "tracker.sqlite3"
    config = tmp_path / "tracker.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{database}"\n'
        f'[mail]\ntransport = "maildir"\nmaildir = "{tmp_path / "mail"}"\n'
    )
    with single_daemon(f"sqlite:///{database}"):
        done = subprocess.run(
            [str(Path(sys.executable).with_name("tracker")), "run", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2, done.stderr
    assert f"another tracker daemon (pid {os.getpid()})" in done.stderr
    assert str(lock_path(database)) in done.stderr
