"""Errors the daemon raises, each with what the user can do about it.

One top-level handler in cli.py turns these (and connector errors) into a
message and an exit code; tracebacks appear only with -v.
"""

from __future__ import annotations


class GhostwatchError(Exception):
    """A problem the user can fix; exit code 1."""

    exit_code = 1
    hint = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint


class StoreError(GhostwatchError):
    hint = "check [daemon] database in the config and that the disk is writable"


class UsageError(GhostwatchError):
    exit_code = 2


class NotFound(GhostwatchError):
    pass


class AlreadyRunning(GhostwatchError):
    hint = "another `ghostwatch run` uses this database; stop it first"


class AccountDegraded(GhostwatchError):
    """One account cannot sync this cycle (the reason is stored for `status`);
    the other accounts carry on and the next cycle tries again."""

    hint = "ghostwatch tries again next cycle; `ghostwatch status` shows the reason"
