"""Every error the tracker raises on purpose, in one tree so callers can catch by meaning.

TrackerError(Exception)
├── CarrierError                      a carrier could not give us tracking data
│   ├── CarrierUnavailable            network failure, timeout, 5xx: retry later with backoff
│   ├── CarrierRateLimited            429 / quota: retry after ``retry_after`` seconds
│   ├── CarrierAuthError              credentials rejected or missing: needs ops, not retries
│   └── ParseError                    the reply was not what the adapter understands
├── ConfigError(ValueError)           a config, rule or template file is wrong; names the key
├── InputError(ValueError)            user input (CLI, CSV) is wrong; names the input
├── PluginError(LookupError)          a carrier/transport plugin is missing or broken
├── StoreError                        the database refused or is in an unusable state
└── NoticeError                       a notice could not be rendered or sent
    ├── TransientSendError            try again later (4xx SMTP, connection refused)
    └── PermanentSendError            never retry (5xx SMTP): the notice is marked failed
"""

from __future__ import annotations


class TrackerError(Exception):
    """Base of every error raised on purpose by the tracker."""


class CarrierError(TrackerError):
    """A carrier could not give us tracking data."""

    def __init__(self, message: str, *, carrier: str | None = None) -> None:
        super().__init__(message)
        self.carrier = carrier


class CarrierUnavailable(CarrierError):
    """Network failure, timeout or server error: worth retrying with backoff."""


class CarrierRateLimited(CarrierError):
    """The carrier asked us to slow down; ``retry_after`` is in seconds."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, carrier: str | None = None
    ) -> None:
        super().__init__(message, carrier=carrier)
        self.retry_after = retry_after


class CarrierAuthError(CarrierError):
    """Credentials missing or rejected; retrying will not help until ops fix them."""


class ParseError(CarrierError):
    """The carrier's reply could not be understood. ``body`` keeps a size-capped copy."""

    BODY_CAP = 4096

    def __init__(
        self, message: str, *, body: bytes | str = b"", carrier: str | None = None
    ) -> None:
        super().__init__(message, carrier=carrier)
        raw = body.encode("utf-8", "replace") if isinstance(body, str) else body
        self.body = raw[: self.BODY_CAP]


class ConfigError(TrackerError, ValueError):
    """A config, rule or template file is invalid. The message names the file and key."""


class InputError(TrackerError, ValueError):
    """User input is invalid. The message names the input and the problem."""


class PluginError(TrackerError, LookupError):
    """A carrier or transport plugin is missing or broken."""


class StoreError(TrackerError):
    """The database refused an operation or is in an unusable state."""


class NoticeError(TrackerError):
    """A notice could not be rendered or sent."""


class TransientSendError(NoticeError):
    """Sending failed in a way that may succeed later."""


class PermanentSendError(NoticeError):
    """Sending failed for good; the server's reply is in the message."""
