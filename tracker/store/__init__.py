"""Persistence: SQLAlchemy models, migrations and the transactions the daemon runs."""
