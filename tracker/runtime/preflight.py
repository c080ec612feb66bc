"""What ``tracker run`` needs beyond a well-formed file, checked the same way by ``check-config``.

A config that ``check-config`` accepts must run: both call ``check_runnable``, which lists every
secret variable the run would read and is not set, loads every enabled carrier's adapter and
checks the settings it declares it cannot work without, resolves the push receivers the webhook
server will mount (``push_routes``, which the server itself uses too), checks the values that
parse but cannot run (``config_values``), and loads the rule files and templates.
``config_warnings`` lists what is odd but does not stop a run (a secret named for something
switched off).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from carriers.base import CarrierAdapter, PushReceiver
from carriers.registry import CarrierRegistry, default_registry
from shops.check import receives_webhooks, shop_problems
from tracker.config import CarrierConfig, TrackerConfig, secret
from tracker.errors import ConfigError, PluginError
from tracker.runtime.config_values import address_problems, value_problems
from tracker.web.links import web_problems

#: the adapter the older ``webhooks.seventeentrack_key_env`` key belongs to
_LEGACY_PUSH_ADAPTER = "seventeentrack"


@dataclass(frozen=True, slots=True)
class PushRoute:
    """One push receiver the webhook server mounts, with the secret that authenticates it and
    the carrier names (``[carriers.NAME]`` tables and the adapter's own name) whose shipments
    its pushes may update."""

    adapter: str
    receiver: PushReceiver
    secret: str
    secret_key: str
    carriers: frozenset[str]


def _adapter_of(name: str, entry: CarrierConfig) -> str:
    return entry.adapter or name


def _secret_keys(config: TrackerConfig) -> dict[str, dict[str, str]]:
    """Per adapter: the config keys naming a webhook secret, with the variable each names."""
    keys: dict[str, dict[str, str]] = defaultdict(dict)
    for name, entry in config.carriers.items():
        if entry.enabled and entry.webhook_secret_env:
            keys[_adapter_of(name, entry)][f"carriers.{name}.webhook_secret_env"] = (
                entry.webhook_secret_env
            )
    legacy = config.webhooks.seventeentrack_key_env
    if legacy:
        keys[_LEGACY_PUSH_ADAPTER]["webhooks.seventeentrack_key_env"] = legacy
    return keys


def _route(
    config: TrackerConfig, adapter: str, keys: Mapping[str, str], registry: CarrierRegistry
) -> PushRoute:
    first = next(iter(keys))
    if len(set(keys.values())) > 1:
        named = ", ".join(sorted(keys))
        raise ConfigError(
            f"{named}: name different variables for one {adapter} webhook; set it once"
        )
    try:
        receiver = registry.load(adapter).push_receiver
    except PluginError as exc:
        raise ConfigError(f"{first}: {exc}") from exc
    if receiver is None:
        raise ConfigError(f"{first}: the {adapter} adapter takes no pushes; remove the key")
    value = secret(keys[first], first)
    if not value:
        raise ConfigError(f"{first}: environment variable {keys[first]} is empty")
    carriers = {adapter} | {
        name
        for name, entry in config.carriers.items()
        if entry.enabled and _adapter_of(name, entry) == adapter
    }
    return PushRoute(adapter, receiver, value, first, frozenset(carriers))


def push_routes(config: TrackerConfig, registry: CarrierRegistry | None = None) -> list[PushRoute]:
    """The receivers to serve: one per adapter a configured carrier gives a webhook secret for.

    ConfigError, naming the key, when a secret's variable is unset or empty, when the adapter
    takes no pushes, or when the server is on (``webhooks.port``) with nothing to serve.
    """
    registry = registry or default_registry()
    routes = [
        _route(config, adapter, keys, registry)
        for adapter, keys in sorted(_secret_keys(config).items())
    ]
    paths: dict[str, str] = {}
    for route in routes:
        if route.receiver.path in paths:
            raise ConfigError(
                f"{route.secret_key}: {route.adapter} and {paths[route.receiver.path]} both "
                f"receive pushes on {route.receiver.path}"
            )
        paths[route.receiver.path] = route.adapter
    serves_something = routes or receives_webhooks(config) or config.seller.unsubscribe_url
    if config.webhooks.port is not None and not serves_something:
        raise ConfigError(
            "webhooks.port is set but no carrier has a webhook secret: set "
            "carriers.NAME.webhook_secret_env for each aggregator that pushes to you "
            "(the older webhooks.seventeentrack_key_env is still read for 17TRACK), or "
            "shops.NAME.webhook_secret_env for a shop that sends orders"
        )
    return routes


def _carrier_problems(
    name: str, entry: CarrierConfig, config: TrackerConfig, registry: CarrierRegistry
) -> list[str]:
    from tracker.runtime.app import carrier_settings

    where = f"carriers.{name}"
    try:
        adapter: type[CarrierAdapter] = registry.load(_adapter_of(name, entry))
        settings = carrier_settings(name, entry, config.daemon.http_timeout)
    except (PluginError, ConfigError) as exc:
        return [f"{where}: {exc}" if isinstance(exc, PluginError) else str(exc)]
    return [
        f"{where}.{key}_env: the {adapter.name} adapter needs its {key}; name the "
        "environment variable that holds it"
        for key in adapter.required_settings
        if not getattr(settings, key, None)
    ]


@dataclass(frozen=True, slots=True)
class NamedSecret:
    """A ``*_env`` key of the config, the variable it names, and whether a run reads it (else
    it belongs to something switched off, and only a warning says it is unset)."""

    key: str
    variable: str
    read: bool
    unused_because: str = ""

    def problem(self) -> str | None:
        """The same words ``tracker.config.secret`` raises at run time, or None when set."""
        value = os.environ.get(self.variable)
        if value is None:
            return f"{self.key}: environment variable {self.variable} is not set"
        return None if value else f"{self.key}: environment variable {self.variable} is empty"


def named_secrets(config: TrackerConfig) -> Iterator[NamedSecret]:
    """Every secret variable the config names, outside ``[shops]`` and ``[web]`` (checked by
    ``shop_problems`` and ``web_problems``)."""
    for name, entry in sorted(config.carriers.items()):
        for key in ("api_key_env", "client_id_env", "client_secret_env", "webhook_secret_env"):
            if variable := getattr(entry, key):
                yield NamedSecret(
                    f"carriers.{name}.{key}", variable, entry.enabled, "the carrier is disabled"
                )
    if variable := config.webhooks.seventeentrack_key_env:
        yield NamedSecret("webhooks.seventeentrack_key_env", variable, True)
    if variable := config.mail.smtp.password_env:
        smtp = config.mail.transport == "smtp"
        yield NamedSecret("mail.smtp.password_env", variable, smtp, "mail goes to the Maildir")
    if variable := config.seller.unsubscribe_secret_env:
        one_click = config.seller.unsubscribe_url is not None
        yield NamedSecret(
            "seller.unsubscribe_secret_env", variable, one_click, "seller.unsubscribe_url is unset"
        )
    if variable := config.refund.notify_seller_webhook_env:
        yield NamedSecret("refund.notify_seller_webhook_env", variable, True)


def config_warnings(config: TrackerConfig) -> list[str]:
    """What does not stop a run but is probably not what the seller meant."""
    return [
        f"{problem} (not read while {named.unused_because})"
        for named in named_secrets(config)
        if not named.read and (problem := named.problem())
    ]


def _references(config: TrackerConfig) -> list[str]:
    """The rule files, templates and strings the config names must load."""
    from notices.render import NoticeRenderer
    from tracker.normalize import load_normalizer

    problems = []
    try:
        load_normalizer(config.normalization.rule_files)
    except ConfigError as exc:
        problems.append(str(exc))
    try:
        NoticeRenderer(
            overrides_dir=config.notices.templates_dir, strings_file=config.notices.strings_file
        )
    except ConfigError as exc:
        problems.append(str(exc))
    return problems


def mail_problems(config: TrackerConfig) -> list[str]:
    """What stops any email from going out: the addresses every message carries and the SMTP
    password variable when mail goes over SMTP (``tracker send-test`` checks these first, so a
    bad ``seller.sender`` is named by its key rather than as a header)."""
    problems = [
        problem
        for named in named_secrets(config)
        if named.key.startswith("mail.") and named.read and (problem := named.problem())
    ]
    return problems + address_problems(config)


def check_runnable(
    config: TrackerConfig, registry: CarrierRegistry | None = None, *, source: str = ""
) -> None:
    """ConfigError listing everything that would stop ``run``, fail every poll of a carrier or
    every notice: all of it at once (every unset secret, not only the first), after ``source``
    (the config file) when given."""
    registry = registry or default_registry()
    problems = [
        problem
        for named in named_secrets(config)
        if named.read and (problem := named.problem()) is not None
    ]
    for name, entry in sorted(config.carriers.items()):
        if entry.enabled:
            problems.extend(_carrier_problems(name, entry, config, registry))
    aggregator = config.routing.aggregator
    if aggregator is not None and aggregator not in config.carriers:
        problems.append(
            f"routing.aggregator: {aggregator!r} has no [carriers.{aggregator}] table; "
            "configure it (with its key) or unset routing.aggregator"
        )
    try:
        push_routes(config, registry)
    except ConfigError as exc:
        problems.append(str(exc))
    problems.extend(shop_problems(config))
    problems.extend(web_problems(config))
    problems.extend(value_problems(config))
    problems.extend(_references(config))
    if problems:
        # a carrier's or a push route's first unset secret is also reported by its own check
        unique = list(dict.fromkeys(problems))
        where = f"{source}: " if source else ""
        raise ConfigError(f"{where}configuration cannot run:\n  " + "\n  ".join(unique))
