"""Running it: wiring config to connectors and store, one cycle per account, the `run`
loop, push watchers, the single-instance lock, sd_notify, logging and progress.

Imports every package except cli and analytics."""
