"""The daemon's one HTTP server: connection limits, carrier pushes, the buyer's pages and choices,
one-click unsubscribe and the ops view (see docs/web.md)."""
