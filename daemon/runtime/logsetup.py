"""Logging: one logger per module, the account in the message, journald-friendly.

Secrets and bodies never reach a log call. Addresses are masked by the callers
(decide.mask) and, as a safety net for messages the callers did not write
(connector errors naming the login, exceptions), by the formatter: every line
at INFO and above shows `w***@example.net`; only DEBUG lines (`-v`, asked for
explicitly) keep full addresses. Credentials in URLs are masked at every level.

Under systemd (JOURNAL_STREAM names our stderr) lines carry a syslog priority
prefix instead of a timestamp, since journald adds its own, and every line of
a multi-line message gets the prefix so journald keeps its priority.
"""

from __future__ import annotations

import logging
import os
import re
import sys

_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}

# user:password@ in a URL (database, proxies): never shown, at any level.
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
# A mail address; the local part must end right before '@', so an already
# masked "w***@example.net" is left as it is.
_ADDRESS = re.compile(r"(?<![\w.%+-])([\w%+-])[\w.%+-]*@([\w-]+(?:\.[\w-]+)+)")


def mask_text(text: str, *, addresses: bool = True) -> str:
    text = _URL_CREDENTIALS.sub("***@", text)
    return _ADDRESS.sub(r"\1***@\2", text) if addresses else text


class _Masking(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record), addresses=record.levelno >= logging.INFO)


class _JournalFormatter(_Masking):
    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_PRIORITY.get(record.levelno, 6)}>"
        lines = super().format(record).splitlines() or [""]
        return "\n".join(prefix + line for line in lines)


def _stderr_is_journal() -> bool:
    """JOURNAL_STREAM is inherited by children whose stderr may go elsewhere
    (systemd.exec(5) says to compare device and inode)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    try:
        st = os.fstat(sys.stderr.fileno())
        return (st.st_dev, st.st_ino) == (int(device), int(inode))
    except (ValueError, OSError, AttributeError):
        return False


def setup(verbose: bool = False) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    if _stderr_is_journal():
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(_Masking("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("imapclient", "sqlalchemy", "alembic", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
