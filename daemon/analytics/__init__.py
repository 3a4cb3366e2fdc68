"""Learning from silence: the ghosting case library and the reports built on it.

Reads the store only; never writes drafts or events."""
