"""One module per CLI command group; each exposes ``commands``: a list of click commands."""
