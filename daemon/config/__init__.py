"""The configuration: TOML read once into frozen dataclasses (settings), built by
the section readers (loader) from checked values (values), the typed reader that
collects every problem (schema), each connector's settings read from its table
(connector_settings), and who is who (identity).

Imports connectors/ and tracker/ (policy types) only."""
