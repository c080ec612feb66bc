"""``python -m carriers.sandbox``: run the sandbox carrier standalone (``--help`` for options)."""

from carriers.sandbox.service import main

main()
