"""The two ways an IMAP command fails for its callers, and the decorator that maps
socket and protocol failures onto them (without server text that might echo
message content).
"""

from __future__ import annotations

import imaplib
from typing import Any

from connectors.errors import ConnectorError, Transient


class ConnectionLost(Transient):
    """The connection dropped or timed out; the caller may reconnect and resume."""


class CommandFailed(ConnectorError):
    """The server answered NO/BAD to a command (folder gone, server bug...)."""


def guard(what: str) -> Any:
    """Turn socket and protocol failures into our two error kinds, without server text
    that might echo message content."""

    def wrap(func: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return func(self, *args, **kwargs)
            except (imaplib.IMAP4.abort, OSError, EOFError) as exc:
                self.broken = True
                raise ConnectionLost(f"{what}: connection lost ({type(exc).__name__})") from None
            except imaplib.IMAP4.error as exc:
                raise CommandFailed(f"{what}: server refused ({short(exc)})") from None

        return call

    return wrap


def short(exc: BaseException) -> str:
    return str(exc).replace("\r", " ").replace("\n", " ")[:120]
