"""Buyer-facing explanation texts, one TOML file per language, read by ``notices.explain``."""
