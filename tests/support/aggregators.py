"""A tracker config that polls one aggregator served by a loopback fake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tracker.config import CarrierConfig, MailConfig, StoreConfig, TrackerConfig


def aggregator_config(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    adapter: str,
    base_url: str,
    *,
    key: str = "key",
    key_env: str = "TEST_AGGREGATOR_KEY",
    **sections: Any,
) -> TrackerConfig:
    """SQLite and a Maildir under ``tmp_path``, ``adapter`` at ``base_url`` with its API key ``key``
    in the variable ``key_env``; ``sections`` add or replace top-level config sections."""
    monkeypatch.setenv(key_env, key)
    return TrackerConfig(
        store=StoreConfig(url=f"sqlite:///{tmp_path / 'tracker.sqlite3'}"),
        mail=MailConfig(maildir=tmp_path / "mail"),
        carriers={
            adapter: CarrierConfig(base_url=base_url, api_key_env=key_env, requests_per_second=100)
        },
        **sections,
    )
