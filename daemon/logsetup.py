"""Logging: one logger per module, the account in the message, journald-friendly.

Secrets and bodies never reach a log call; addresses are masked at INFO by the
callers (decide.mask). Under systemd (JOURNAL_STREAM set) lines carry a
syslog priority prefix instead of a timestamp, since journald adds its own.
"""

from __future__ import annotations

import logging
import os
import sys

_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"<{_PRIORITY.get(record.levelno, 6)}>{record.name}: {record.getMessage()}"


def setup(verbose: bool = False) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("imapclient", "sqlalchemy", "alembic", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
