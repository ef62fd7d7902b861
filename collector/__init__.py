"""The engine: config, runs, store, CLI."""
