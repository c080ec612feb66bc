"""Data files describing tracking-number formats; read by ``carriers.detect``."""
