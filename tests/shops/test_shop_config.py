"""Shop tables in config: check-config names every problem, and the daemon's one web server
serves the shop webhooks (also when no carrier pushes to us)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.shops.conftest import SHOPIFY_SECRET, b64_sign, shipment
from tracker.cli import main
from tracker.config import parse_config
from tracker.errors import ConfigError
from tracker.runtime.app import TrackerApp
from tracker.runtime.preflight import check_runnable
from tracker.web.site import DaemonSite

#: every test here talks to real loopback servers (the fake shop APIs, the webhook routes)
pytestmark = pytest.mark.integration

FULFILLMENT = (Path(__file__).with_name("fixtures") / "shopify_fulfillment.json").read_bytes()


def test_check_runnable_names_each_shop_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNSET_SHOP_TOKEN", raising=False)
    config = parse_config(
        {
            "shops": {
                "store": {
                    "adapter": "shopify",
                    "base_url": "http://example.myshopify.com",
                    "access_token_env": "UNSET_SHOP_TOKEN",
                    "paypal": "missing",
                },
                "woo": {"adapter": "woocommerce", "paypal": "store"},
                "pp": {"adapter": "paypal", "options": {"api": "v3"}},
                "magento": {},
                "off": {"adapter": "shopify", "enabled": False},
            }
        },
        "test.toml",
    )
    with pytest.raises(ConfigError) as caught:
        check_runnable(config)
    message = str(caught.value)
    for expected in (
        "shops.store.webhook_secret_env: the Shopify adapter needs it",
        "shops.store.access_token_env: environment variable UNSET_SHOP_TOKEN is not set",
        "shops.store.base_url: 'http://example.myshopify.com' must be an https:// URL",
        "shops.store.paypal: no enabled [shops.missing] table",
        "shops.woo.base_url: the WooCommerce adapter needs it",
        "shops.woo.paypal: [shops.store] is a Shopify table",
        "shops.pp.client_id_env: the PayPal adapter needs it",
        "shops.pp.options.api: 'v3' is not one of",
        "shops.magento: shop plugin 'magento' is not installed",
    ):
        assert expected in message
    assert "shops.off" not in message


def test_check_config_accepts_the_test_shops(app: TrackerApp, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check-config", "--config", str(tmp_path / "tracker.toml")])
    assert result.exit_code == 0, result.output


async def test_daemon_web_server_serves_shop_webhooks_without_any_carrier_pushes(
    app: TrackerApp,
) -> None:
    app.config = app.config.model_copy(
        update={"webhooks": app.config.webhooks.model_copy(update={"port": 0})}
    )
    server = DaemonSite(app)
    await server.start()
    try:
        headers = {
            "X-Shopify-Hmac-Sha256": b64_sign(FULFILLMENT, SHOPIFY_SECRET),
            "X-Shopify-Topic": "fulfillments/create",
            "X-Shopify-Webhook-Id": "wh-server",
        }
        async with httpx.AsyncClient(base_url=server.url) as client:
            reply = await client.post(
                "/webhooks/shops/main_store", content=FULFILLMENT, headers=headers
            )
            refused = await client.post(
                "/webhooks/shops/main_store", content=FULFILLMENT, headers={}
            )
    finally:
        await server.stop()
    assert reply.status_code == 200, reply.text
    assert json.loads(reply.text)["orders"][0]["tracked"] == ["RB123456785BR", "RB987654326BR"]
    assert refused.status_code == 401
    assert shipment(app, "RB987654326BR").order_reference == "#1042"
