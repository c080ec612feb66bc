"""Reloading the config on SIGHUP: re-read the file, rebuild what depends on it (settings,
normalization rules, templates and strings) and swap it all in at once.

A config that fails to load or validate is rejected and the running one stays.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from notices.render import NoticeRenderer
from tracker.config import TrackerConfig, load_config
from tracker.normalize import Normalizer, load_normalizer

if TYPE_CHECKING:
    from tracker.runtime.app import TrackerApp

#: settings read once at start; a reload that changes them logs that a restart is needed
RESTART_ONLY = ("store", "mail", "metrics")


def config_digest(config: TrackerConfig) -> str:
    """A short stable fingerprint of a config, shown by ``tracker status`` after a reload."""
    text = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class LoadedConfig:
    """Everything built from one config file, ready to be swapped in."""

    config: TrackerConfig
    normalizer: Normalizer
    renderer: NoticeRenderer


def load_parts(path: Path) -> LoadedConfig:
    """Read and validate ``path`` and build its normalizer and renderer (blocking file I/O)."""
    config = load_config(path)
    normalizer = load_normalizer(config.normalization.rule_files)
    renderer = NoticeRenderer(
        overrides_dir=config.notices.templates_dir, strings_file=config.notices.strings_file
    )
    return LoadedConfig(config, normalizer, renderer)


def changed_sections(old: TrackerConfig, new: TrackerConfig) -> list[str]:
    """Top-level config sections that differ between ``old`` and ``new``."""
    return [name for name in type(old).model_fields if getattr(old, name) != getattr(new, name)]


def swap_in(app: TrackerApp, parts: LoadedConfig) -> list[str]:
    """Replace config, normalizer and renderer in one synchronous step on the event loop.

    Jobs read these attributes when they start a unit of work, so a poll or send in progress
    finishes with the generation it began with and the next one uses the new parts. Carrier
    runtimes whose section changed are dropped and rebuilt on next use. Returns changed sections.
    """
    old = app.config
    changed = changed_sections(old, parts.config)
    stale = [
        name
        for name in list(app.carriers)
        if old.carriers.get(name) != parts.config.carriers.get(name)
    ]
    app.config, app.normalizer, app.renderer = parts.config, parts.normalizer, parts.renderer
    for name in stale:
        app.carriers.pop(name, None)
    return changed
