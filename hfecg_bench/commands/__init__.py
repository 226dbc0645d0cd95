"""One module per CLI subcommand; each has ``register(subparsers)`` adding its parser and handler."""
