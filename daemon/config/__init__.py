"""The configuration: TOML read once into frozen dataclasses (settings), the typed
reader that collects every problem (schema), and who is who (identity).

Imports connectors/ and tracker/ (policy types) only."""
