"""The ``tracker`` console script: a click group that imports a command's module only when that
command runs, so ``tracker --help`` and ``tracker detect`` never pay for SQLAlchemy, alembic,
aiohttp, jinja2 or the classifier."""

from __future__ import annotations

import importlib
from typing import NamedTuple

import click

from tracker import __version__


class CommandEntry(NamedTuple):
    """Where a command lives (``tracker.commands.<module>``, attribute) and its one-line help,
    which ``tracker --help`` prints without importing the module (a test keeps it in step)."""

    module: str
    attribute: str
    summary: str


#: every command of the console script; a test checks this against each module's ``commands``
COMMANDS: dict[str, CommandEntry] = {
    "add": CommandEntry("orders", "add", "Start tracking one shipment."),
    "check-config": CommandEntry(
        "inspect", "check_config", "Validate a config file; errors point at the exact key."
    ),
    "classify": CommandEntry(
        "classify",
        "classify",
        "Read JSON-lines events on stdin; write them back with status, detail, explanation, rule.",
    ),
    "demo": CommandEntry(
        "daemon",
        "demo",
        "Run the daemon against the built-in sandbox carrier in accelerated time.",
    ),
    "detect": CommandEntry(
        "detect", "detect", "Print the carriers NUMBER may belong to, most likely first."
    ),
    "edit": CommandEntry(
        "correct",
        "edit",
        "Correct a tracked shipment; the values are checked as `tracker add` checks them.",
    ),
    "events": CommandEntry(
        "ops",
        "events",
        "The audit log, oldest first: state changes, queued, sent, retried and failed notices.",
    ),
    "import": CommandEntry(
        "orders",
        "import_orders",
        "Import orders from a CSV file; bad rows are listed with their line numbers.",
    ),
    "opt-out": CommandEntry(
        "notices",
        "opt_out",
        "Stop all buyer notices for one shipment, or (--email) for every shipment of a buyer.",
    ),
    "poll": CommandEntry(
        "correct", "poll", "Make a shipment due for a poll now (after fixing a carrier key, say)."
    ),
    "preview": CommandEntry(
        "notices",
        "preview",
        "Render a notice for a sample parcel (or a stored one) to a file to look at.",
    ),
    "run": CommandEntry(
        "daemon",
        "run",
        "Run the daemon until SIGTERM; in-flight polls and sends finish before it exits.",
    ),
    "send-test": CommandEntry(
        "mail", "send_test", "Send a test email to ADDRESS through the configured mail transport."
    ),
    "shops": CommandEntry(
        "shops",
        "shops",
        "Connected shops: sync recent orders, show each shop's webhooks, syncs and failing calls.",
    ),
    "show": CommandEntry(
        "inspect",
        "show",
        "Print a shipment's timeline: raw events, their status, milestones and notices.",
    ),
    "status": CommandEntry(
        "ops",
        "status",
        "Health of the service; exits 1 when unhealthy, so monitoring can run it as a check.",
    ),
    "stop": CommandEntry(
        "correct",
        "stop",
        "Stop tracking a shipment: no more polls or buyer notices; its history stays.",
    ),
    "unclassified": CommandEntry(
        "inspect",
        "unclassified",
        "The most frequent events no rule classified, so ops can add rules for them.",
    ),
}


def load_command(name: str) -> click.Command:
    """Import the module that defines command ``name`` and return the command."""
    entry = COMMANDS[name]
    module = importlib.import_module(f"tracker.commands.{entry.module}")
    command = getattr(module, entry.attribute)
    assert isinstance(command, click.Command)
    return command


class LazyGroup(click.Group):
    """A group whose commands are imported on first use; the listing comes from ``COMMANDS``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name) if cmd_name in COMMANDS else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name].summary) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracker")
def main() -> None:
    """Shipment tracking monitor and proactive buyer notifier."""
