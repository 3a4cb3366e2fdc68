"""From stored facts to decisions: each thread's timeline of tracker events, what the
calendar says, and the replay that stores each thread's decision.

Imports tracker, db, config, classify and the calendar loaders of ingest."""
