"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from tracker.config import TrackerConfig, load_config, resolve_paths
from tracker.errors import TrackerError

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_CONFIG = Path("config/tracker.toml")


def config_option(func: F) -> F:
    """``--config PATH`` (or $TRACKER_CONFIG, or ./config/tracker.toml when present)."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar="TRACKER_CONFIG",
        default=None,
        help="Config file (default: $TRACKER_CONFIG, else config/tracker.toml if it exists).",
    )(func)


def load(config_path: Path | None) -> TrackerConfig:
    """The config named on the command line, the default file, or built-in defaults."""
    if config_path is not None:
        return load_config(config_path)
    if DEFAULT_CONFIG.is_file():
        return load_config(DEFAULT_CONFIG)
    return resolve_paths(TrackerConfig(), Path.cwd())


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
