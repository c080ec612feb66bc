"""Seller and ops configuration: TOML files validated by pydantic models that reject unknown keys.

Durations are written with units (``36h``); secrets are never in the file, only the names of the
environment variables that hold them. Every error names the file and the exact key.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import time, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tracker.durations import parse_duration
from tracker.errors import ConfigError
from tracker.model import Milestone


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(
            f"invalid duration {value!r}: write it as a string with a unit, e.g. '36h'"
        )
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Strict):
    """Where state lives: a SQLite file path or any SQLAlchemy URL."""

    url: str = "sqlite:///var/tracker.sqlite3"
    echo: bool = False


class DaemonConfig(_Strict):
    """How often each scheduler job runs and how much work one run takes."""

    poll_every: Duration = timedelta(minutes=5)
    dispatch_every: Duration = timedelta(seconds=30)
    timers_every: Duration = timedelta(minutes=15)
    batch_size: int = Field(200, ge=1, le=10_000)
    lease: Duration = timedelta(minutes=10)
    shutdown_grace: Duration = timedelta(seconds=30)
    http_timeout: Duration = timedelta(seconds=20)
    #: how often the running daemon records a heartbeat in the store (read by ``tracker status``)
    heartbeat_every: Duration = timedelta(seconds=30)


class SellerWording(_Strict):
    """What the seller says in one language; a key left out falls back to ``[seller]``."""

    store_name: str | None = None
    signature: str | None = None
    coupon_line: str | None = None


class SellerConfig(_Strict):
    """Who the emails come from and how they are signed.

    ``signature`` unset signs in the buyer's language ("The {store} team", "Ihr Team von
    {store}"); ``[seller.languages.<tag>]`` words the store name, signature and coupon line per
    language (``pt`` covers ``pt-PT`` unless it has its own table). ``message_id_domain`` unset
    is the sender's domain; ``unsubscribe_url`` is the public https address (proxied to the
    webhook server) where buyers unsubscribe in one click (RFC 8058), its links signed with the
    key in the environment variable ``unsubscribe_secret_env``.
    """

    store_name: str = "Example Store"
    sender: str = "Example Store <orders@example.com>"
    reply_to: str | None = None
    signature: str | None = None
    support_url: str | None = None
    default_language: str = "en"
    message_id_domain: str | None = None
    coupon_line: str | None = None
    unsubscribe_url: str | None = None
    unsubscribe_secret_env: str | None = None
    languages: dict[str, SellerWording] = Field(default_factory=dict)

    @field_validator("unsubscribe_url")
    @classmethod
    def _https_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError(f"{value!r} must be an https:// address (RFC 8058)")
        return value

    @property
    def id_domain(self) -> str:
        """The right-hand side of Message-IDs: the configured domain, else the sender's."""
        if self.message_id_domain:
            return self.message_id_domain
        return parseaddr(self.sender)[1].rpartition("@")[2] or "tracker.invalid"


class SmtpConfig(_Strict):
    """An SMTP relay; the password comes from the environment variable named here."""

    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password_env: str | None = None
    timeout: Duration = timedelta(seconds=30)


class MailConfig(_Strict):
    """Which transport delivers notices."""

    transport: Literal["maildir", "smtp"] = "maildir"
    maildir: Path = Path("var/mail")
    smtp: SmtpConfig = SmtpConfig()
    retry_backoff: Duration = timedelta(minutes=5)
    max_attempts: int = Field(12, ge=1)


class Thresholds(_Strict):
    """When a shipment counts as stalled, late, due a refund offer, and when to stop polling."""

    stalled_after: Duration = timedelta(days=10)
    late_after: Duration = timedelta(days=30)
    refund_offer_after: Duration = timedelta(days=45)
    satisfaction_after: Duration = timedelta(days=5)
    expire_after: Duration = timedelta(days=90)
    min_notice_gap: Duration = timedelta(hours=20)
    expected_transit: Duration = timedelta(days=20)
    #: a delay notice waits this long after the end of the window the buyer was promised
    delay_grace: Duration = timedelta(days=2)
    #: a parcel the carrier has not received this long after the label: the seller is told
    not_handed_over_after: Duration = timedelta(days=5)
    #: how long a post office or pickup point keeps a parcel; unset: the destination's default
    #: (tracker/policy/data/pickup_hold.toml)
    pickup_hold: Duration | None = None
    #: the second pickup reminder goes out this long before the hold ends
    pickup_reminder_before: Duration = timedelta(days=3)


class ThresholdOverride(_Strict):
    """Per-country or per-carrier thresholds; unset keys fall back to the defaults."""

    stalled_after: Duration | None = None
    late_after: Duration | None = None
    refund_offer_after: Duration | None = None
    satisfaction_after: Duration | None = None
    expire_after: Duration | None = None
    min_notice_gap: Duration | None = None
    expected_transit: Duration | None = None
    delay_grace: Duration | None = None
    not_handed_over_after: Duration | None = None
    pickup_hold: Duration | None = None
    pickup_reminder_before: Duration | None = None


class ThresholdsConfig(_Strict):
    """Global defaults plus overrides keyed by destination country (ISO2) and carrier name."""

    default: Thresholds = Thresholds()
    country: dict[str, ThresholdOverride] = {}
    carrier: dict[str, ThresholdOverride] = {}

    @field_validator("country")
    @classmethod
    def _iso2(cls, value: dict[str, ThresholdOverride]) -> dict[str, ThresholdOverride]:
        for code in value:
            if len(code) != 2 or not code.isalpha() or not code.isupper():
                raise ValueError(f"country key {code!r} must be an ISO 3166 alpha-2 code like 'BR'")
        return value

    def for_shipment(self, carrier: str, country: str) -> Thresholds:
        """Carrier overrides win over country overrides, which win over the defaults."""
        merged = self.default.model_dump()
        for override in (self.country.get(country), self.carrier.get(carrier)):
            if override is not None:
                merged.update({k: v for k, v in override.model_dump().items() if v is not None})
        return Thresholds.model_validate(merged)


class QuietHoursConfig(_Strict):
    """Buyer-local hours during which no email is sent; notices wait for the morning."""

    enabled: bool = True
    start: time = time(21, 0)
    end: time = time(8, 0)
    timezone_by_country: dict[str, str] = {}


class RefundConfig(_Strict):
    """Which choices delayed and refund-offer emails give, the seller's preferred first."""

    choices: list[Literal["keep_waiting", "resend", "refund"]] = [
        "keep_waiting",
        "resend",
        "refund",
    ]
    notify_seller_email: str | None = None
    notify_seller_webhook: str | None = None
    #: environment variable holding the webhook URL instead (it may carry a token); wins if set
    notify_seller_webhook_env: str | None = None

    @field_validator("choices")
    @classmethod
    def _at_least_two(cls, value: list[str]) -> list[str]:
        if len(set(value)) < 2:
            raise ValueError("offer at least two different choices (keep_waiting, resend, refund)")
        return value


class CarrierConfig(_Strict):
    """Connection settings for one carrier; secrets come from the named environment variables."""

    enabled: bool = True
    #: the registered adapter this carrier runs on when it differs from the table's name, e.g.
    #: ``[carriers.cyprus_post] adapter = "webpage"``; shipments and events keep the table's name
    adapter: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    client_id_env: str | None = None
    client_secret_env: str | None = None
    timeout: Duration | None = None
    #: overrides the adapter's declared rate, e.g. for a paid plan or a local sandbox
    requests_per_second: float | None = Field(None, gt=0)
    #: fewer numbers per request than the adapter allows (some plans cap batch sizes)
    numbers_per_request: int | None = Field(None, ge=1)
    #: environment variable holding the secret this carrier's pushes are signed with; set, and
    #: with ``webhooks.port`` on, its adapter's push receiver is served
    webhook_secret_env: str | None = None
    options: dict[str, str] = {}


class RoutingConfig(_Strict):
    """Where numbers go when the seller names no carrier and detection finds no adapter."""

    aggregator: str | None = None


class NormalizationConfig(_Strict):
    """Ops rule files that extend or override the built-in normalization rules."""

    rule_files: list[Path] = []


class NoticesConfig(_Strict):
    """Seller overrides of templates and strings, and which milestones email the buyer."""

    templates_dir: Path | None = None
    strings_file: Path | None = None
    disabled: list[Milestone] = []


class LoggingConfig(_Strict):
    """Structured log output."""

    format: Literal["auto", "json", "console"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"
    redact_emails: bool = True


class MetricsConfig(_Strict):
    """Prometheus metrics endpoint; off unless a port is given."""

    host: str = "127.0.0.1"
    port: int | None = Field(None, ge=1, le=65535)


class WebhooksConfig(_Strict):
    """Inbound pushes from the carriers that have ``webhook_secret_env``; off unless a port is
    given (0 = any free port)."""

    host: str = "127.0.0.1"
    port: int | None = Field(None, ge=0, le=65535)
    #: older spelling of ``carriers.seventeentrack.webhook_secret_env`` (still read)
    seventeentrack_key_env: str | None = None
    #: how long a push holds a shipment; polls skip it meanwhile
    lease: Duration = timedelta(seconds=60)
    max_body: int = Field(1024 * 1024, ge=1024)


class ShopConfig(_Strict):
    """One connected shop or PayPal account (``[shops.NAME]``); secrets come from the named
    environment variables. Which keys an adapter needs is checked by ``tracker check-config``."""

    #: the registered shop adapter (shopify, woocommerce, paypal, webhook); default: the name
    adapter: str | None = None
    enabled: bool = True
    base_url: str | None = None
    api_version: str | None = None
    access_token_env: str | None = None
    webhook_secret_env: str | None = None
    consumer_key_env: str | None = None
    consumer_secret_env: str | None = None
    client_id_env: str | None = None
    client_secret_env: str | None = None
    #: the ``[shops.NAME]`` PayPal table this shop's PayPal orders get their tracking uploaded to
    paypal: str | None = None
    #: send status changes back to the shop (fulfillment events, order status)
    push_status: bool = True
    #: WooCommerce: the order status to set once every parcel is delivered, e.g. "completed"
    delivered_status: str | None = None
    #: the country parcels leave from, for delivery estimates (ISO alpha-2)
    origin_country: str | None = None
    timeout: Duration | None = None
    retry_backoff: Duration = timedelta(minutes=5)
    max_attempts: int = Field(12, ge=1)
    options: dict[str, str] = {}


class BrandConfig(_Strict):
    """How the buyer's page looks: the seller's logo, accent colour and footer."""

    #: an image on the seller's own site (https), shown instead of the store name
    logo_url: str | None = None
    #: buttons and links; must reach WCAG AA contrast (4.5:1) against white
    accent: str = "#1d4ed8"
    footer: str | None = None
    hide_origin: bool = False
    hide_carrier: bool = False

    @field_validator("accent")
    @classmethod
    def _readable(cls, value: str) -> str:
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
            raise ValueError(f"accent {value!r} must be a colour like '#1d4ed8'")
        ratio = contrast_with_white(value)
        if ratio < 4.5:
            raise ValueError(
                f"accent {value} has contrast {ratio:.2f}:1 against white; WCAG AA needs 4.5:1"
            )
        return value.lower()

    @field_validator("logo_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(
            r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s\"'<>;,]*)?", value
        ):
            raise ValueError(f"logo_url {value!r} must be a plain https:// address of an image")
        return value


def contrast_with_white(colour: str) -> float:
    """WCAG contrast ratio of ``#rrggbb`` against white."""

    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return 1.05 / (luminance + 0.05)


class WebConfig(_Strict):
    """The daemon's one HTTP server: carrier pushes, the buyer's page, the ops view.

    Off unless a port is given (0 = any free port); meant to sit behind the seller's TLS proxy.
    """

    host: str = "127.0.0.1"
    port: int | None = Field(None, ge=0, le=65535)
    #: the address buyers reach the server at (https://track.example.com); notices link to it
    public_url: str | None = None
    #: serve the buyer's pages (needs the link keys); pushes and /ops are served either way
    pages: bool = True
    #: environment variable holding the link signing keys, newest first, comma-separated
    link_keys_env: str = "TRACKER_WEB_KEYS"
    link_ttl: Duration = timedelta(days=180)
    #: environment variable holding the ops view's token (Bearer, or basic-auth password)
    ops_token_env: str | None = None
    header_timeout: Duration = timedelta(seconds=10)
    body_timeout: Duration = timedelta(seconds=15)
    idle_timeout: Duration = timedelta(seconds=30)
    max_connections: int = Field(256, ge=1, le=100_000)
    max_form: int = Field(16 * 1024, ge=1024, le=1024 * 1024)
    shutdown_grace: Duration = timedelta(seconds=5)
    #: lookups by order number and email allowed per client network in ``lookup_window``
    lookup_limit: int = Field(5, ge=1)
    lookup_window: Duration = timedelta(minutes=15)
    #: proxies whose X-Forwarded-For names the real client (for the lookup rate limit)
    trusted_proxies: list[str] = ["127.0.0.1", "::1"]
    brand: BrandConfig = BrandConfig()

    @field_validator("public_url")
    @classmethod
    def _base(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError(f"public_url {value!r} must be like 'https://track.example.com'")
        return value.rstrip("/") if value else value


class TrackerConfig(_Strict):
    """The whole configuration file."""

    store: StoreConfig = StoreConfig()
    daemon: DaemonConfig = DaemonConfig()
    seller: SellerConfig = SellerConfig()
    mail: MailConfig = MailConfig()
    thresholds: ThresholdsConfig = ThresholdsConfig()
    quiet_hours: QuietHoursConfig = QuietHoursConfig()
    refund: RefundConfig = RefundConfig()
    carriers: dict[str, CarrierConfig] = {}
    routing: RoutingConfig = RoutingConfig()
    normalization: NormalizationConfig = NormalizationConfig()
    notices: NoticesConfig = NoticesConfig()
    logging: LoggingConfig = LoggingConfig()
    metrics: MetricsConfig = MetricsConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    shops: dict[str, ShopConfig] = {}
    web: WebConfig = WebConfig()

    @model_validator(mode="after")
    def _one_click_is_served(self) -> TrackerConfig:
        # a one-click link nobody answers would tell mail providers we ignore unsubscribes
        if self.seller.unsubscribe_url and self.webhooks.port is None and self.web.port is None:
            raise ValueError(
                "seller.unsubscribe_url is served by the daemon's web server: set web.port"
            )
        if self.seller.unsubscribe_url and not self.seller.unsubscribe_secret_env:
            raise ValueError(
                "seller.unsubscribe_url needs seller.unsubscribe_secret_env (signing key)"
            )
        return self


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling against config/tracker.toml)"
    return f"{location or '(top level)'}: {message}"


def parse_config(data: dict[str, Any], source: str) -> TrackerConfig:
    """Validate already-parsed TOML; errors name ``source`` and every bad key."""
    try:
        return TrackerConfig.model_validate(data)
    except ValidationError as exc:
        problems = "\n  ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{source}: invalid configuration\n  {problems}") from exc


def load_config(path: Path) -> TrackerConfig:
    """Read and validate a config file; relative paths in it are resolved against its folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    return resolve_paths(parse_config(data, str(path)), path.parent.resolve())


def resolve_paths(config: TrackerConfig, base: Path) -> TrackerConfig:
    """Make file paths and SQLite URLs relative to the config file's folder absolute (also a
    carrier's ``options.config``, the page description a web-page carrier reads)."""

    def absolute(value: Path) -> Path:
        return value if value.is_absolute() else base / value

    url = config.store.url
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
        url = prefix + str(absolute(Path(url.removeprefix(prefix))))
    notices = config.notices.model_copy(
        update={
            "templates_dir": absolute(config.notices.templates_dir)
            if config.notices.templates_dir
            else None,
            "strings_file": absolute(config.notices.strings_file)
            if config.notices.strings_file
            else None,
        }
    )
    carriers = {
        name: entry.model_copy(
            update={"options": {**entry.options, "config": str(absolute(Path(path)))}}
        )
        if (path := entry.options.get("config"))
        else entry
        for name, entry in config.carriers.items()
    }
    return config.model_copy(
        update={
            "carriers": carriers,
            "store": config.store.model_copy(update={"url": url}),
            "mail": config.mail.model_copy(update={"maildir": absolute(config.mail.maildir)}),
            "normalization": NormalizationConfig(
                rule_files=[absolute(p) for p in config.normalization.rule_files]
            ),
            "notices": notices,
        }
    )


def secret(env_name: str | None, what: str) -> str | None:
    """Read a secret from the environment; a named but unset variable is a ConfigError."""
    if env_name is None:
        return None
    value = os.environ.get(env_name)
    if value is None:
        raise ConfigError(f"{what}: environment variable {env_name} is not set")
    return value
