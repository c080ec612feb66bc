"""Carrier adapters: one module per carrier, each splitting fetch (I/O) from parse (pure)."""
