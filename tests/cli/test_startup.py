"""The CLI imports what a command uses and nothing more: checked through ``sys.modules`` in a
fresh interpreter, not by timing (bench/cli_startup.py measures the time)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import tracker.commands
from tracker.cli import COMMANDS, main
from tracker.store.db import open_store

#: what ``tracker --help`` and ``tracker detect`` must not import (each costs 50 ms to 1 s)
HEAVY = ("sqlalchemy", "alembic", "aiohttp", "jinja2", "pydantic", "tracker.normalize", "rich")

RUN_AND_LIST_MODULES = """
import json, sys
from tracker.cli import main
try:
    main(sys.argv[1:], prog_name="tracker")
except SystemExit:
    pass
print("\\n" + json.dumps(sorted(sys.modules)))
"""


def modules_after(*argv: str) -> set[str]:
    """Every module imported by a fresh interpreter running ``tracker ARGV``."""
    result = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def imported(modules: set[str], root: str) -> bool:
    return root in modules or any(m.startswith(root + ".") for m in modules)


@pytest.mark.integration
@pytest.mark.parametrize("argv", [("--help",), ("--version",), ("detect", "RB473124829BR")])
def test_fast_paths_import_no_heavy_dependency(argv: tuple[str, ...]) -> None:
    modules = modules_after(*argv)
    assert [root for root in HEAVY if imported(modules, root)] == []
    commands = {m for m in modules if m.startswith("tracker.commands.")}
    assert commands == ({"tracker.commands.detect"} if argv[0] == "detect" else set())


def test_detect_answers_through_the_lazy_group() -> None:
    out = CliRunner().invoke(main, ["detect", "RB473124829BR"])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("correios\tUPU S10")


@pytest.mark.integration
def test_read_only_commands_do_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    open_store(url)  # a real store at the current schema
    for argv in (("show", "RB473124829BR"), ("status",), ("events",)):
        modules = modules_after(*argv, "--store", url)
        assert not imported(modules, "alembic"), argv
        assert not imported(modules, "aiohttp"), argv
        assert not imported(modules, "jinja2"), argv


def test_help_lists_every_command_with_its_own_summary() -> None:
    """The table ``tracker --help`` prints is the commands' own first help sentence, and every
    command a module exports is in it (so a new command cannot be forgotten)."""
    exported: dict[str, click.Command] = {}
    for info in pkgutil.iter_modules(tracker.commands.__path__):
        module = importlib.import_module(f"tracker.commands.{info.name}")
        for command in getattr(module, "commands", []):
            assert command.name is not None
            exported[command.name] = command
            entry = COMMANDS[command.name]
            assert (entry.module, getattr(module, entry.attribute)) == (info.name, command)
    assert set(exported) == set(COMMANDS)
    for name, command in exported.items():
        assert COMMANDS[name].summary == command.get_short_help_str(limit=500), name
