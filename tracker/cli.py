"""The ``tracker`` console script: a click group assembled from ``tracker.commands`` modules."""

from __future__ import annotations

import importlib

import click

from tracker import __version__

#: modules under tracker.commands, each exposing ``commands: list[click.Command]``
COMMAND_MODULES: tuple[str, ...] = (
    "daemon",
    "orders",
    "inspect",
    "detect",
    "classify",
    "ops",
    "notices",
    "shops",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracker")
def main() -> None:
    """Shipment tracking monitor and proactive buyer notifier."""


def _register() -> None:
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(f"tracker.commands.{module_name}")
        for command in module.commands:
            main.add_command(command)


_register()
