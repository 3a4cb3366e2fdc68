"""Data as it arrives: mail and calendar changes become stored messages, threads and
calendar entries, each classified once; a rebuilt database adopts ghostwatch's own
drafts back from the mailbox (adopt).

Mail: sync_mail (mail) reads the changes since the cursor and stores each batch
(store_batch) with the thread links (mail_threads) and header verdicts (verdicts),
then classifies the few suspicious bodies (mail_bodies).

Imports config, classify, db, connectors, the pure calendar parsers in
decide.calendar_signals, and the draft key scheme of act.drafts (adopt)."""
