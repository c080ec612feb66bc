"""Wiring: builds the long-lived parts (store, normalizer, adapters, renderer, transport) from
config once, so the scheduler jobs, the demo and the tests share one object graph."""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import ParamSpec, TypeVar

import httpx
from sqlalchemy.orm import Session, sessionmaker

from carriers.base import CarrierAdapter, CarrierSettings
from carriers.registry import default_registry
from carriers.transport import carrier_client
from notices.render import NoticeRenderer
from notices.transports import MaildirTransport, SmtpTransport, Transport
from tracker.clock import Clock
from tracker.config import CarrierConfig, TrackerConfig, secret
from tracker.errors import PluginError
from tracker.eventlog import get_logger
from tracker.normalize import Normalizer, load_normalizer
from tracker.policy.assess import PolicySettings
from tracker.runtime.metrics import Metrics
from tracker.runtime.resilience import CircuitBreaker, RateLimiter
from tracker.store.db import open_store
from tracker.store.lanes import LaneCache


def daemon_identity() -> str:
    """Who holds a lease: host, pid and a random suffix so restarts never reuse an identity."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def carrier_settings(
    name: str, entry: CarrierConfig, default_timeout: timedelta
) -> CarrierSettings:
    """Resolve one carrier's config section, reading its secrets from the environment."""
    where = f"carriers.{name}"
    return CarrierSettings(
        base_url=entry.base_url,
        api_key=secret(entry.api_key_env, f"{where}.api_key_env"),
        client_id=secret(entry.client_id_env, f"{where}.client_id_env"),
        client_secret=secret(entry.client_secret_env, f"{where}.client_secret_env"),
        timeout_seconds=(entry.timeout or default_timeout).total_seconds(),
        options=dict(entry.options),
    )


def load_adapter(config: TrackerConfig, name: str) -> CarrierAdapter:
    """The adapter of the carrier configured as ``name`` (its ``adapter`` key, else the name
    itself); PluginError if it is disabled or cannot load, ConfigError if a secret is missing."""
    entry = config.carriers.get(name, CarrierConfig())
    if not entry.enabled:
        raise PluginError(f"carrier {name!r} is disabled in config (carriers.{name}.enabled)")
    adapter_class = default_registry().load(entry.adapter or name)
    return adapter_class(carrier_settings(name, entry, config.daemon.http_timeout))


def build_transport(config: TrackerConfig) -> Transport:
    """The configured mail transport (Maildir by default)."""
    mail = config.mail
    if mail.transport == "maildir":
        return MaildirTransport(mail.maildir)
    smtp = mail.smtp
    return SmtpTransport(
        host=smtp.host,
        port=smtp.port,
        security=smtp.security,
        username=smtp.username,
        password=secret(smtp.password_env, "mail.smtp.password_env"),
        timeout=smtp.timeout.total_seconds(),
    )


@dataclass
class CarrierRuntime:
    """One carrier's adapter plus the state that keeps us polite to it."""

    adapter: CarrierAdapter
    limiter: RateLimiter
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    #: the config name (``[carriers.NAME]``) logs and metrics use; the adapter's when empty
    name: str = ""
    #: numbers per request: the adapter's limit, or less if config says so
    batch_size: int = 0

    def __post_init__(self) -> None:
        self.name = self.name or self.adapter.name
        limit = max(1, self.adapter.max_numbers_per_request)
        self.batch_size = min(self.batch_size, limit) if self.batch_size > 0 else limit


_P = ParamSpec("_P")
_T = TypeVar("_T")


def store_executor(store: sessionmaker[Session]) -> ThreadPoolExecutor | None:
    """One thread for every transaction on SQLite, None (asyncio's pool) elsewhere.

    SQLite has a single write lock, and a thread waiting for it sleeps in SQLite's busy handler
    (1, 2, 5, 10 ms ...): concurrent poll batches spent more time asleep there than writing.
    One writer thread queues them instead. PostgreSQL locks rows, so transactions run side by side.
    """
    engine = store.kw.get("bind")
    if engine is not None and engine.dialect.name == "sqlite":
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
    return None


@dataclass
class TrackerApp:
    """Everything a daemon job needs; built by ``build_app``."""

    config: TrackerConfig
    clock: Clock
    store: sessionmaker[Session]
    normalizer: Normalizer
    renderer: NoticeRenderer
    transport: Transport
    http: httpx.AsyncClient
    owner: str
    carriers: dict[str, CarrierRuntime] = field(default_factory=dict)
    lanes: LaneCache = field(default_factory=LaneCache)
    #: this app's Prometheus counters, on a registry of its own
    metrics: Metrics = field(default_factory=Metrics)
    #: where store transactions run (see :func:`store_executor`)
    store_threads: ThreadPoolExecutor | None = None
    #: the policy's settings and the config they were made from (see :meth:`policy_settings`)
    _policy: tuple[TrackerConfig, PolicySettings] | None = field(default=None, repr=False)

    def policy_settings(self) -> PolicySettings:
        """The policy's settings for the current config, made once per config: they keep the
        thresholds merged per (carrier, country), which every batch would otherwise redo. A
        reload replaces ``config``, and the next call makes them anew."""
        cached = self._policy
        if cached is None or cached[0] is not self.config:
            cached = self._policy = (self.config, PolicySettings.from_config(self.config))
        return cached[1]

    async def in_store(self, work: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run the blocking store call ``work(*args, **kwargs)`` off the event loop."""
        call = functools.partial(work, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.store_threads, call)

    def carrier(self, name: str) -> CarrierRuntime:
        """The runtime for ``name``, loading its adapter on first use; PluginError if unusable."""
        runtime = self.carriers.get(name)
        if runtime is not None:
            return runtime
        entry = self.config.carriers.get(name, CarrierConfig())
        adapter = load_adapter(self.config, name)
        runtime = CarrierRuntime(
            adapter=adapter,
            limiter=RateLimiter(
                entry.requests_per_second or adapter.requests_per_second,
                burst=adapter.max_concurrency,
            ),
            name=name,
            batch_size=entry.numbers_per_request or 0,
        )
        self.carriers[name] = runtime
        get_logger(carrier=name).info("carrier.loaded", adapter=adapter.name)
        return runtime

    async def close(self) -> None:
        """Release network resources and the database connections."""
        await self.http.aclose()
        await self.transport.close()
        if self.store_threads is not None:
            self.store_threads.shutdown(wait=True)
        engine = self.store.kw.get("bind")
        if engine is not None:
            engine.dispose()


#: container allocations (net of those freed) between two young collections; CPython's 700
#: made a 4,000-shipment first poll run about 210 of them, each walking the batches' live
#: events, about 5% of its CPU (bench/pipeline.py); a job's garbage is almost all freed by
#: reference counting, so the collector rarely finds anything sooner
YOUNG_COLLECTION_THRESHOLD = 10_000


def settle_heap() -> None:
    """Collect, then move everything alive into the collector's permanent generation, and
    collect the young generation less often (:data:`YOUNG_COLLECTION_THRESHOLD`).

    What a daemon holds after start-up (imports, the rule index, templates, config) lives as
    long as the process, yet every full collection would walk all of it again; frozen, the
    collector walks only what the jobs allocate. Called again after a config reload, with the
    old parts thawed first so that they can be freed.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


def build_app(config: TrackerConfig, clock: Clock, *, owner: str | None = None) -> TrackerApp:
    """Open the store (migrating it), load rules and templates, and set up HTTP and mail."""
    store = open_store(config.store.url, echo=config.store.echo)
    normalizer = load_normalizer(config.normalization.rule_files)
    renderer = NoticeRenderer(
        overrides_dir=config.notices.templates_dir, strings_file=config.notices.strings_file
    )
    http = carrier_client(config.daemon.http_timeout.total_seconds())
    app = TrackerApp(
        config=config,
        clock=clock,
        store=store,
        normalizer=normalizer,
        renderer=renderer,
        transport=build_transport(config),
        http=http,
        owner=owner or daemon_identity(),
        store_threads=store_executor(store),
    )
    app.metrics.watch_store(
        store, clock.now, lambda: {name: rt.breaker for name, rt in dict(app.carriers).items()}
    )
    return app
