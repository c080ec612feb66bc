"""``tracker send-test ADDRESS``: one short email through the configured transport, so a seller
sees that SMTP works (host, security, login) before a buyer's notice depends on it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tracker.commands.common import config_option, config_source, friendly_errors, load
from tracker.errors import InputError, NoticeError

if TYPE_CHECKING:
    from email.message import EmailMessage

    from tracker.config import TrackerConfig


@click.command("send-test")
@click.argument("address")
@config_option
@friendly_errors
def send_test(config_path: Path | None, address: str) -> None:
    """Send a test email to ADDRESS through the configured mail transport."""
    from notices.message import build_message, format_address, message_id_for
    from notices.render import RenderedNotice
    from tracker.runtime.preflight import mail_problems

    config = load(config_path)
    if problems := mail_problems(config):
        where = f"{config_source(config_path)}: "
        raise InputError(f"{where}no email can be sent:\n  " + "\n  ".join(problems))
    seller = config.seller
    now = datetime.now(UTC)
    text = (
        f"This is a test message from the shipment tracker of {seller.store_name}.\n"
        f"It was sent {now:%Y-%m-%d %H:%M} UTC through the {config.mail.transport} transport "
        f"({config_source(config_path)}).\n"
        "Buyers' notices will arrive the same way.\n"
    )
    notice = RenderedNotice(
        subject=f"{seller.store_name}: test message", text=text, html=f"<pre>{text}</pre>"
    )
    try:
        message = build_message(
            notice,
            sender=seller.sender,
            recipient=format_address("", address),
            reply_to=seller.reply_to,
            message_id=message_id_for(f"send-test:{address}:{now.isoformat()}", seller.id_domain),
        )
    except NoticeError as exc:
        raise InputError(f"send-test: {exc}") from exc
    asyncio.run(_send(config, message))
    where = (
        f"written to the Maildir {config.mail.maildir} (no email leaves this machine)"
        if config.mail.transport == "maildir"
        else f"accepted by {config.mail.smtp.host}:{config.mail.smtp.port}"
    )
    click.echo(f"test message to {address} {where}")


async def _send(config: TrackerConfig, message: EmailMessage) -> None:
    from tracker.runtime.app import build_transport

    transport = build_transport(config)
    try:
        await transport.send(message)
    except NoticeError as exc:
        raise InputError(f"the test message was not sent: {exc}") from exc
    finally:
        await transport.close()


commands = [send_test]
