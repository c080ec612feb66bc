"""What ``check-config`` (and ``tracker run``) verify of every enabled ``[shops.NAME]`` table:
the adapter loads, the settings it declares it needs are there, every named environment
variable is set, and a ``paypal`` key names an enabled PayPal table."""

from __future__ import annotations

from os import environ
from urllib.parse import urlsplit

from shops.base import ShopAdapter
from shops.paypal import APIS
from shops.registry import ShopRegistry, default_registry
from tracker.config import ShopConfig, TrackerConfig
from tracker.errors import PluginError

_ENV_KEYS = (
    "access_token_env",
    "webhook_secret_env",
    "consumer_key_env",
    "consumer_secret_env",
    "client_id_env",
    "client_secret_env",
)
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def shop_problems(config: TrackerConfig, registry: ShopRegistry | None = None) -> list[str]:
    """Every problem of every enabled shop table, each naming its key."""
    registry = registry or default_registry()
    problems: list[str] = []
    for name, entry in sorted(config.shops.items()):
        if entry.enabled:
            problems.extend(_problems(name, entry, config, registry))
    return problems


def _problems(
    name: str, entry: ShopConfig, config: TrackerConfig, registry: ShopRegistry
) -> list[str]:
    where = f"shops.{name}"
    try:
        adapter = registry.load(entry.adapter or name)
    except PluginError as exc:
        return [f"{where}: {exc}"]
    problems = [
        f"{where}.{key}: the {adapter.display_name} adapter needs it"
        for key in adapter.required
        if not getattr(entry, key)
    ]
    problems += _unset_variables(where, entry)
    problems += _url_problems(where, entry)
    problems += _paypal_problems(where, entry, config, registry)
    if adapter.name == "paypal" and entry.options.get("api", "orders_v2") not in APIS:
        problems.append(f"{where}.options.api: {entry.options['api']!r} is not one of {APIS}")
    return problems


def _unset_variables(where: str, entry: ShopConfig) -> list[str]:
    return [
        f"{where}.{key}: environment variable {variable} is not set"
        for key in _ENV_KEYS
        if (variable := getattr(entry, key)) and not environ.get(variable)
    ]


def _url_problems(where: str, entry: ShopConfig) -> list[str]:
    if entry.base_url is None:
        return []
    parts = urlsplit(entry.base_url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        return []
    return [f"{where}.base_url: {entry.base_url!r} must be an https:// URL (keys travel in it)"]


def _paypal_problems(
    where: str, entry: ShopConfig, config: TrackerConfig, registry: ShopRegistry
) -> list[str]:
    if entry.paypal is None:
        return []
    target = config.shops.get(entry.paypal)
    if target is None or not target.enabled:
        return [f"{where}.paypal: no enabled [shops.{entry.paypal}] table"]
    try:
        adapter: type[ShopAdapter] = registry.load(target.adapter or entry.paypal)
    except PluginError:
        return []  # reported with that table
    if adapter.name != "paypal":
        return [f"{where}.paypal: [shops.{entry.paypal}] is a {adapter.display_name} table"]
    return []


def receives_webhooks(config: TrackerConfig) -> bool:
    """Whether any enabled shop table takes webhooks (so the web server has work)."""
    return any(entry.enabled and entry.webhook_secret_env for entry in config.shops.values())
