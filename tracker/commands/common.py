"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from tracker.config import TrackerConfig, load_config, resolve_paths
from tracker.durations import parse_duration
from tracker.errors import InputError, TrackerError

F = TypeVar("F", bound=Callable[..., Any])
#: where every command looks for its config when neither --config nor $TRACKER_CONFIG names
#: one, in this order (the installed file first, so a shell in a checkout agrees with the daemon)
SYSTEM_CONFIG = Path("/etc/tracker/tracker.toml")
LOCAL_CONFIG = Path("config/tracker.toml")
DISCOVERY = (
    "--config, else $TRACKER_CONFIG, else /etc/tracker/tracker.toml, else ./config/tracker.toml"
)


def config_option(func: F) -> F:
    """``--config PATH``, found the same way by every command (see :func:`find_config`)."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar="TRACKER_CONFIG",
        default=None,
        help=f"Config file (default: {DISCOVERY.removeprefix('--config, else ')}, "
        "whichever exists first; else built-in defaults).",
    )(func)


def find_config(config_path: Path | None) -> Path | None:
    """The config file a command reads: the one named, else the first default that exists."""
    if config_path is not None:
        return config_path
    for candidate in (SYSTEM_CONFIG, LOCAL_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def load(config_path: Path | None) -> TrackerConfig:
    """The config named on the command line, the default file, or built-in defaults (relative
    paths then resolve against the working folder)."""
    found = find_config(config_path)
    if found is not None:
        return load_config(found)
    return resolve_paths(TrackerConfig(), Path.cwd())


def config_source(config_path: Path | None) -> str:
    """How a command names the config it read, for the line saying which store it used."""
    found = find_config(config_path)
    return f"config {found.resolve()}" if found is not None else "no config file: built-in defaults"


def announce_store(url: str, config_path: Path | None, *, from_option: bool = False) -> None:
    """Say on stderr which store a command opened and why, so two shells that disagree show it."""
    from tracker.store.readonly import display_url, sqlite_path

    path = sqlite_path(url)
    where = str(path.resolve()) if path is not None else display_url(url)
    why = "--store" if from_option else config_source(config_path)
    click.echo(f"store: {where} ({why})", err=True)


def store_url(config_path: Path | None, option: str | None, *, quiet: bool = False) -> str:
    """The store a reading command opens (``--store`` wins over the config), announced unless
    ``quiet`` (``--json``: scripts get JSON only)."""
    url = option or load(config_path).store.url
    if not quiet:
        announce_store(url, config_path, from_option=option is not None)
    return url


def friendly_errors(func: F) -> F:
    """Turn TrackerError into a one-line message on stderr and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TrackerError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def env_flag(name: str) -> bool:
    """True when the environment variable is set to a true-ish value."""
    return os.environ.get(name, "").lower() in {"1", "true", "yes"}


def parse_since(text: str, now: datetime) -> datetime:
    """``2d`` (ago) or an ISO date/time (UTC when no offset is given)."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"--since {text!r}: give a duration such as 2d or 36h, "
            "or an ISO date such as 2026-03-01"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
