"""Data as it arrives: mail and calendar changes become stored messages, threads and
calendar entries, each classified once; a rebuilt database adopts ghostwatch's own
drafts back from the mailbox (adopt).

Imports config, classify, db, connectors, the pure calendar parsers in
decide.calendar_signals, and the draft key scheme of act.drafts (adopt)."""
