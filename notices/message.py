"""Turn a rendered notice into an RFC 5322 email with a deterministic Message-ID.

The Message-ID is derived from the notice's idempotency key, so a notice retried after a crash
carries the same id and mail systems (and our tests) can recognise the duplicate.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

from notices.compose import one_line
from notices.render import RenderedNotice
from tracker.errors import NoticeError

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")

__all__ = ["build_message", "format_address", "message_id_for"]


def message_id_for(notice_key: str, domain: str) -> str:
    """``<hash@domain>`` for a notice key: the same key always gives the same Message-ID."""
    if not _DOMAIN.match(domain):
        raise NoticeError(f"message id domain {domain!r} is not a valid host name")
    digest = hashlib.blake2b(notice_key.encode("utf-8"), digest_size=16).hexdigest()
    return f"<{digest}.notice@{domain}>"


def format_address(display_name: str, email: str) -> str:
    """A ``Name <addr>`` header value; CR/LF in the name are removed, a bad address is rejected."""
    bare = _address(email, "To")
    if bare.display_name:
        raise NoticeError(f"To: {email!r} must be a bare address")
    return str(Address(display_name=one_line(display_name), addr_spec=bare.addr_spec))


def _address(value: str, header: str) -> Address:
    if "\r" in value or "\n" in value or "\x00" in value:
        raise NoticeError(f"{header}: line breaks are not allowed in an address")
    pairs = getaddresses([value])
    if len(pairs) != 1 or "@" not in pairs[0][1]:
        raise NoticeError(f"{header}: {value!r} is not one email address")
    name, addr = pairs[0]
    local, _, domain = addr.rpartition("@")
    try:
        return Address(display_name=one_line(name), username=local, domain=domain)
    except (ValueError, IndexError) as exc:
        raise NoticeError(f"{header}: {value!r} is not a valid address: {exc}") from exc


def build_message(
    notice: RenderedNotice,
    *,
    sender: str,
    recipient: str,
    reply_to: str | None,
    message_id: str,
    date: datetime | None = None,
) -> EmailMessage:
    """A multipart/alternative email (text first, then HTML) with safe, single-line headers.

    Addresses containing CR/LF raise ``NoticeError``; the subject is collapsed to one line.
    ``date`` defaults to now (UTC).
    """
    if not re.fullmatch(r"<[^<>\s@]+@[^<>\s@]+>", message_id):
        raise NoticeError(f"Message-ID {message_id!r} must look like <id@domain>")
    msg = EmailMessage()
    msg["Subject"] = one_line(notice.subject)
    msg["From"] = _address(sender, "From")
    msg["To"] = _address(recipient, "To")
    if reply_to:
        msg["Reply-To"] = _address(reply_to, "Reply-To")
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(notice.text, cte=_transfer_encoding(notice.text))
    msg.add_alternative(notice.html, subtype="html", cte=_transfer_encoding(notice.html))
    return msg


def _transfer_encoding(body: str) -> str:
    """7-bit safe for any relay: quoted-printable for mostly-ASCII text, base64 for the rest."""
    if body.isascii():
        return "7bit"
    non_ascii = sum(1 for c in body if ord(c) > 127)
    return "quoted-printable" if non_ascii * 10 < len(body) else "base64"
