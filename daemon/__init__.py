"""ghostwatch's daemon, grouped by what happens to the data.

- cli/: the command line (parsing, commands, presentation)
- config/: the configuration file as typed values
- ingest/: mail and calendar changes into the store, classified (classify/)
- decide/: each thread's timeline replayed through the tracker (tracker/, pure)
- act/: drafts, reminders and tags carried out in the user's own mailbox and calendar
- runtime/: wiring, one cycle per account, the `run` loop, push, locks, logging
- analytics/: the ghosting case library
- db/: the store (SQLAlchemy tables, migrations, backups)
- errors.py, failures.py, backoff.py: shared by all of them
"""
