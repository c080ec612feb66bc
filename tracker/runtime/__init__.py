"""The long-running process: the app's wiring, the daemon and its scheduler, systemd, reload,
health, metrics and the HTTP server for pushes."""
