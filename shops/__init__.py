"""Shop platforms and payment providers: orders in (webhooks, sync), status and tracking out.

One adapter module per platform (``shopify``, ``woocommerce``, ``paypal``, the generic signed
``webhook``), registered in the ``tracker.shops`` entry-point group; the contract is in
``shops.base``. Orders become shipments in ``shops.ingest``; status changes queue outbox rows
(``shops.payload``) that ``shops.dispatch`` sends.
"""
