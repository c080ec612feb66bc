"""``tracker run`` (the service) and ``tracker demo`` (the same daemon in simulated time)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tracker.clock import SystemClock
from tracker.commands.common import (
    announce_store,
    config_option,
    find_config,
    friendly_errors,
    load,
)
from tracker.eventlog import configure_logging
from tracker.model import RawEvent
from tracker.runtime.app import build_app, settle_heap
from tracker.runtime.daemon import Daemon
from tracker.runtime.demo import DemoResult, DemoSite, run_demo, serve_demo
from tracker.runtime.metrics import serve_metrics
from tracker.runtime.preflight import check_runnable, config_warnings
from tracker.runtime.service import Service


@click.command("run")
@config_option
@friendly_errors
def run(config_path: Path | None) -> None:
    """Run the daemon until SIGTERM; in-flight polls and sends finish before it exits."""
    config = load(config_path)
    config_path = find_config(config_path)
    # the same checks as check-config, so what it accepts runs
    check_runnable(config, source=str(config_path) if config_path else "")
    for warning in config_warnings(config):
        click.echo(f"warning: {warning}", err=True)
    configure_logging(
        config.logging.format, config.logging.level, redact=config.logging.redact_emails
    )
    announce_store(config.store.url, config_path)
    # SIGHUP re-reads this file; systemd's NOTIFY_SOCKET and WATCHDOG_USEC are honoured when set.
    service = Service.from_env(config_path.resolve() if config_path else None)

    async def main() -> None:
        app = build_app(config, SystemClock())
        app.normalizer.classify(RawEvent(app.clock.now(), "start-up"))  # builds the rule index
        settle_heap()
        port = config.metrics.port
        server = None if port is None else serve_metrics(app.metrics, config.metrics.host, port)
        try:
            await Daemon(app, service).run_forever()
        finally:
            if server is not None:
                server.close()
            service.close()
            await app.close()

    asyncio.run(main())


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("demo-output"),
    show_default=True,
    help="Where the demo's database and mailbox go (replaced on each run).",
)
@click.option("--days", default=60, show_default=True, help="Simulated days to run.")
@click.option("--per-journey", default=4, show_default=True, help="Shipments per journey.")
@click.option(
    "--serve",
    is_flag=True,
    help="After the summary, serve the buyer's page and the ops view until Ctrl-C.",
)
@click.option("--port", default=0, show_default=True, help="Port for --serve (0: any free).")
@friendly_errors
def demo(directory: Path, days: int, per_journey: int, serve: bool, port: int) -> None:
    """Run the daemon against the built-in sandbox carrier in accelerated time."""
    console = Console()
    configure_logging("json", "error")
    with Progress(
        TextColumn("[bold]simulated day[/] {task.completed:>4.0f}/{task.total:.0f}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("demo", total=days)

        def advance(day: float) -> None:
            progress.update(task, completed=min(day, days))

        result = asyncio.run(
            run_demo(directory.resolve(), days=days, per_journey=per_journey, on_progress=advance)
        )
    _print_summary(console, result)
    if serve:
        _serve(console, result, port)


def _serve(console: Console, result: DemoResult, port: int) -> None:
    def announce(site: DemoSite) -> None:
        console.print(
            f"one parcel's page: {site.page_url}\n"
            f"the ops view:      {site.ops_url} (any user name, password {site.ops_token})\n"
            "serving until Ctrl-C",
            markup=False,
            soft_wrap=True,
        )

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_demo(result, port, announce))


def _print_summary(console: Console, result: DemoResult) -> None:
    shipments = Table(title="Shipments by status")
    shipments.add_column("status")
    shipments.add_column("count", justify="right")
    for status, count in result.shipments_by_status.items():
        shipments.add_row(status, str(count))
    emails = Table(title="Emails sent by kind")
    emails.add_column("kind")
    emails.add_column("count", justify="right")
    for kind, count in result.emails_by_kind.items():
        emails.add_row(kind, str(count))
    console.print(shipments)
    console.print(emails)
    if result.shop_orders:
        pushed = Table(title=f"Sent back to the simulated store ({result.shop_orders} orders)")
        pushed.add_column("fulfillment event")
        pushed.add_column("count", justify="right")
        for status, count in result.shop_events.items():
            pushed.add_row(status, str(count))
        console.print(pushed)
    console.print(
        f"{result.emails_in_maildir} emails are in the Maildir {result.maildir}/new\n"
        f"open one with: less {result.maildir}/new/$(ls {result.maildir}/new | head -n1)\n"
        f"or point a mail client (mutt -f {result.maildir}) at it.\n"
        f"a parcel's timeline: .venv/bin/tracker show {result.sample_number} "
        f"--store sqlite:///{result.directory / 'tracker.sqlite3'}",
        soft_wrap=True,  # commands stay whole on narrow terminals, so they can be copied
        markup=False,
        highlight=False,
    )


commands = [run, demo]
