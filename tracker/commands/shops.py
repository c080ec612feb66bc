"""``tracker shops``: backfill orders from connected shops and see how each shop is doing."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn
from rich.table import Table

from tracker.commands.common import config_option, friendly_errors, load, parse_since, store_url
from tracker.config import TrackerConfig
from tracker.errors import InputError


@click.group("shops")
def shops() -> None:
    """Connected shops: sync recent orders, show each shop's webhooks, syncs and failing calls."""


def _syncing(config: TrackerConfig, names: tuple[str, ...]) -> list[str]:
    from shops.registry import default_registry

    registry = default_registry()
    if names:
        unknown = [n for n in names if n not in config.shops]
        if unknown:
            raise InputError(f"--shop: no [shops.{unknown[0]}] table in the config")
        chosen = list(names)
    else:
        chosen = [n for n, e in sorted(config.shops.items()) if e.enabled]
    return [n for n in chosen if registry.load(config.shops[n].adapter or n).syncs]


@shops.command("sync")
@click.option("--shop", "names", multiple=True, help="A [shops.NAME] table (repeatable); all.")
@click.option("--since", default="7d", show_default=True, help="Orders updated since (7d, date).")
@config_option
@friendly_errors
def sync(config_path: Path | None, names: tuple[str, ...], since: str) -> None:
    """Read recently updated orders from each shop and track their numbers (idempotent)."""
    config = load(config_path)
    start = parse_since(since, datetime.now(UTC))
    chosen = _syncing(config, names)
    if not chosen:
        raise InputError("no shop table that can sync (Shopify, WooCommerce) is enabled")
    failed = asyncio.run(_sync(config, chosen, start))
    if failed:
        sys.exit(1)


async def _sync(config: TrackerConfig, names: list[str], since: datetime) -> bool:
    from shops.sync import sync_shop
    from tracker.clock import SystemClock
    from tracker.runtime.app import build_app

    app = build_app(config, SystemClock())
    console = Console(stderr=True, highlight=False)
    failed = False
    try:
        columns = (SpinnerColumn(), TextColumn("{task.description}: {task.completed} orders"))
        with Progress(*columns, console=console, transient=True) as progress:
            for name in names:
                task = progress.add_task(name, total=None)

                def advance(count: int, task: TaskID = task) -> None:
                    progress.advance(task, count)

                report = await sync_shop(app, name, since, advance)
                click.echo(
                    f"{name}: {len(report.orders)} order(s) read, {report.tracked} number(s) "
                    f"newly tracked, {len(report.failed)} order(s) failed"
                )
                for order in report.failed:
                    click.echo(f"  {order.reference}: {order.error}", err=True)
                if report.error:
                    click.echo(f"  sync stopped: {report.error}", err=True)
                failed = failed or bool(report.failed or report.error)
    finally:
        await app.close()
    return failed


@shops.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_option
@friendly_errors
def status(config_path: Path | None, as_json: bool) -> None:
    """Each shop's last webhook, last sync, linked parcels and failing calls."""
    from shops.status import shop_views
    from tracker.store.readonly import open_existing_store

    config = load(config_path)
    # read-only: a missing store or another schema revision is an error, never created
    with open_existing_store(store_url(config_path, None, quiet=as_json))() as session:
        views = shop_views(session)
    for name in config.shops:
        views.setdefault(
            name, {"last_webhook": None, "last_sync": None, "linked": 0, "failing_calls": 0}
        )
    if as_json:
        click.echo(json.dumps(views, indent=2, sort_keys=True))
        return
    print_shops(views)


def print_shops(views: dict[str, dict[str, Any]]) -> None:
    """The shops table ``tracker status`` and ``tracker shops status`` print."""
    table = Table(title="Shops")
    for column in ("shop", "linked", "last webhook (UTC)", "last sync (UTC)", "failing calls"):
        table.add_column(column)
    for name, view in sorted(views.items()):
        hook = view.get("last_webhook") or {}
        sync = view.get("last_sync") or {}
        hook_text = f"{hook['at']} {hook['outcome']}" if hook else "never"
        sync_text = f"{sync['at']} {'ok' if sync.get('ok') else 'failed'}" if sync else "never"
        failing = str(view.get("failing_calls", 0))
        if view.get("last_error"):
            failing += f" ({str(view['last_error'])[:60]})"
        table.add_row(name, str(view.get("linked", 0)), hook_text, sync_text, failing)
    Console(highlight=False).print(table)


commands = [shops]
