"""Turn a rendered notice into an RFC 5322 email with a deterministic Message-ID.

The Message-ID is derived from the notice's idempotency key, so a notice retried after a crash
carries the same id and mail systems (and our tests) can recognise the duplicate.

Headers are written by hand (``compat32`` policy) rather than through the stdlib's header
registry: the registry's parsing cost twice the time of rendering a notice (see
``bench/notices.py``). Safety does not depend on it: every address is validated here, CR/LF can
never reach a header, and non-ASCII text is RFC 2047 encoded, so the message is 7-bit clean.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import quopri
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy, quoprimime
from email.charset import RFC2047_CHROME_LEN, Charset
from email.errors import HeaderParseError
from email.header import Header, decode_header, make_header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from functools import lru_cache

from notices.compose import one_line
from notices.languages import canonical
from notices.render import RenderedNotice
from notices.unsubscribe import ONE_CLICK, Unsubscribe
from tracker.addresses import domain_problem, split_mailbox
from tracker.errors import NoticeError

_MESSAGE_ID = re.compile(r"^<[^<>\s@]+@[^<>\s@]+>$")
_MAX_LINE = 900  # RFC 5321 allows 998 octets per line; stay well below
#: characters of a display name kept in a header (orders allow 200): with the address (254) and
#: RFC 2047 words of at most 75 octets on lines of their own, no header line nears 998 octets
MAX_DISPLAY_NAME = 200

__all__ = ["MAX_DISPLAY_NAME", "build_message", "format_address", "message_id_for"]


def message_id_for(notice_key: str, domain: str) -> str:
    """``<hash@domain>`` for a notice key: the same key always gives the same Message-ID."""
    problem = domain_problem(domain)
    if problem is not None:
        raise NoticeError(f"message id domain {domain!r} is not a valid host name: {problem}")
    digest = hashlib.blake2b(notice_key.encode("utf-8"), digest_size=16).hexdigest()
    return f"<{digest}.notice@{domain}>"


def format_address(display_name: str, email: str) -> str:
    """A ``Name <addr>`` value for ``build_message``; CR/LF in the name become spaces.

    The name stays readable text (quoted, never encoded here): ``build_message`` encodes it.
    """
    name, addr = _address(email, "To")
    if name:
        raise NoticeError(f"To: {email!r} must be a bare address")
    name = one_line(display_name)
    if name.isascii():
        return formataddr((name, addr))
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}" <{addr}>'


@lru_cache(maxsize=4096)  # pure; the seller's own addresses are in every message
def _address(value: str, header: str) -> tuple[str, str]:
    """(display name, addr-spec) of exactly one address the shared rule
    (``tracker.addresses``) accepts; NoticeError naming the header otherwise."""
    try:
        name, addr = split_mailbox(value)
    except ValueError as exc:
        raise NoticeError(f"{header}: {exc}") from None
    if "=?" in name:  # already RFC 2047 encoded (a sender written that way): decode, re-encode
        with contextlib.suppress(HeaderParseError, LookupError, UnicodeDecodeError):
            name = str(make_header(decode_header(name)))
    return one_line(name), addr


class _Utf8(Charset):
    """UTF-8 for RFC 2047 headers, split into encoded words exactly as the stdlib splits them.

    The stdlib re-measures the whole line so far after each character it adds (quadratic, and
    in Python for quoted-printable): a fifth of building a notice with a non-ASCII subject. Both
    encodings' lengths add up character by character, so this keeps running totals instead;
    ``tests/notices/test_message.py`` checks the output against the stdlib's.
    """

    def __init__(self) -> None:
        super().__init__("utf-8")

    def header_encode_lines(self, string: str, maxlengths: Iterator[int]) -> list[str | None]:
        """The stdlib's ``Charset.header_encode_lines``, measured incrementally."""
        encoder_module = self._get_encoder(string.encode("utf-8"))  # type: ignore[attr-defined]
        quoted = encoder_module is quoprimime
        extra = len("utf-8") + RFC2047_CHROME_LEN
        lines: list[str | None] = []
        current: list[str] = []
        size = 0  # the current line's encoded length (QP) or byte count (base64)
        maxlen = next(maxlengths) - extra
        for character in string:
            octets = character.encode("utf-8")
            grown = size + (quoprimime.header_length(octets) if quoted else len(octets))
            length = grown if quoted else -(-grown // 3) * 4  # base64: 4 per 3 octets begun
            if length > maxlen:
                if not lines and not current:
                    lines.append(None)
                else:
                    joined = "".join(current).encode("utf-8")
                    lines.append(encoder_module.header_encode(joined, "utf-8"))
                current = [character]
                size = grown - size
                maxlen = next(maxlengths) - extra
            else:
                current.append(character)
                size = grown
        lines.append(encoder_module.header_encode("".join(current).encode("utf-8"), "utf-8"))
        return lines


_UTF8 = _Utf8()


def _encoded(text: str, header_name: str) -> str:
    # header_name lets the first encoded word fit beside "Subject: "; without it the generator
    # folds before the first word and readers see the subject with a leading space.
    return text if text.isascii() else Header(text, _UTF8, header_name=header_name).encode()


def _address_header(value: str, header: str) -> str:
    """``Name <addr>`` with the name cut to MAX_DISPLAY_NAME characters and, when not ASCII,
    split into RFC 2047 words of at most 75 octets that the generator folds onto lines of their
    own (one word for a whole long name made a 1,081-octet To: line; the limit is 998)."""
    name, addr = _address(value, header)
    name = name[:MAX_DISPLAY_NAME].strip()
    if not name or name.isascii():
        return formataddr((name, addr))
    words = Header(name, "utf-8", header_name=header).encode(splitchars=" ", maxlinelen=76)
    return f"{words} <{addr}>"


def _part(body: str, subtype: str) -> EmailMessage:
    """One text part, 7-bit safe for any relay."""
    part = EmailMessage(policy=policy.compat32)
    raw = body.encode("utf-8")
    short_lines = max(map(len, body.splitlines()), default=0) <= _MAX_LINE
    if body.isascii() and short_lines:
        cte, payload = "7bit", body
    elif (len(raw) - len(body)) * 10 < len(body):  # mostly ASCII: stays readable as QP
        cte, payload = "quoted-printable", quopri.encodestring(raw).decode("ascii")
    else:
        cte, payload = "base64", base64.encodebytes(raw).decode("ascii")
    charset = "us-ascii" if body.isascii() else "utf-8"
    part["Content-Type"] = f'text/{subtype}; charset="{charset}"'
    part["Content-Transfer-Encoding"] = cte
    part.set_payload(payload)
    return part


def _unsubscribe_headers(msg: EmailMessage, unsubscribe: Unsubscribe) -> None:
    _address(unsubscribe.mailto, "List-Unsubscribe")
    url = unsubscribe.one_click_url
    if url is not None and (not url.startswith("https://") or any(c in url for c in "<>\r\n ,")):
        raise NoticeError(f"List-Unsubscribe: {url!r} is not a plain https:// address")
    msg["List-Unsubscribe"] = unsubscribe.list_unsubscribe()
    if url is not None:
        msg["List-Unsubscribe-Post"] = ONE_CLICK


def build_message(
    notice: RenderedNotice,
    *,
    sender: str,
    recipient: str,
    reply_to: str | None,
    message_id: str,
    date: datetime | None = None,
    language: str | None = None,
    unsubscribe: Unsubscribe | None = None,
) -> EmailMessage:
    """A multipart/alternative email (text first, then HTML) with safe, single-line headers.

    Addresses containing CR/LF, or more than one address, raise ``NoticeError``; the subject is
    collapsed to one line. ``date`` defaults to now (UTC). Replies go to ``reply_to``, else to
    the sender (mail providers trust a message whose replies reach a person). ``language`` becomes
    Content-Language; ``unsubscribe`` the List-Unsubscribe headers (RFC 2369, and RFC 8058's
    one-click form when it has an https link).
    """
    if not _MESSAGE_ID.match(message_id):
        raise NoticeError(f"Message-ID {message_id!r} must look like <id@domain>")
    msg = EmailMessage(policy=policy.compat32)
    msg["Subject"] = _encoded(one_line(notice.subject), "Subject")
    msg["From"] = _address_header(sender, "From")
    msg["To"] = _address_header(recipient, "To")
    msg["Reply-To"] = _address_header(reply_to or sender, "Reply-To")
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    if language:
        tag = canonical(language)
        if tag is None:
            raise NoticeError(f"Content-Language: {language!r} is not a language tag")
        msg["Content-Language"] = tag
    if unsubscribe is not None:
        _unsubscribe_headers(msg, unsubscribe)
    msg["MIME-Version"] = "1.0"
    parts = [_part(notice.text, "plain"), _part(notice.html, "html")]
    # the value set_boundary would write, without parsing the header back first
    msg["Content-Type"] = f'multipart/alternative; boundary="{_boundary(parts)}"'
    for part in parts:
        msg.attach(part)
    return msg


def _boundary(parts: list[EmailMessage]) -> str:
    """A random MIME boundary that no part's text contains. Chosen here because the stdlib's
    generator, left to choose, compiles a new regular expression for every message it sends
    (a sixth of sending one, bench/notices.py)."""
    while True:
        boundary = f"=_tracker_{secrets.token_hex(12)}"
        if not any(boundary in str(part.get_payload()) for part in parts):
            return boundary
