"""Built-in normalization rule data (TOML), loaded by ``tracker.normalize``."""
