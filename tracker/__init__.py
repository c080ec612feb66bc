"""Self-hosted shipment tracking monitor and proactive buyer notifier."""

__version__ = "0.1.0"
