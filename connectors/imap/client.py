"""Thin wire wrapper over imapclient: log in, run commands, count them, map errors.

The socket under it is opened by transport (TLS, STARTTLS, keepalive); the error
kinds and their mapping are in errors.

Everything protocol-specific that imapclient does not do the way we need lives
here: UID FETCH over sequence-set ranges (imapclient 4 only takes explicit UID
lists), VANISHED responses (QRESYNC), and one command counter per folder so the
cost of a sync can be measured rather than guessed.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from connectors.errors import AuthFailed, ConnectorError, Transient
from connectors.imap.errors import ConnectionLost, guard, short
from connectors.imap.fetchparse import parse_fetches, read_tagged
from connectors.imap.folders import ListedFolder
from connectors.imap.settings import Settings
from connectors.imap.transport import open_socket

ACCOUNT = ""  # counter key for commands that belong to no folder (LOGIN, LIST, ID...)
CLIENT_ID = {"name": "ghostwatch", "vendor": "ghostwatch", "version": "0.1"}

# Response codes that say "try later", not "wrong password" (RFC 5530).
_TRANSIENT_LOGIN = re.compile(rb"\[(UNAVAILABLE|SERVERBUG|INUSE|LIMIT|CONTACTADMIN)\]", re.I)


class Wire:
    """One logged-in IMAP connection."""

    def __init__(self, client: IMAPClient) -> None:
        self._client = client
        self._client.normalise_times = False  # keep INTERNALDATE tz-aware
        self.counts: Counter[str] = Counter()
        self.broken = False
        self.caps: frozenset[str] = frozenset()
        self.qresync = False
        self.selected: str | None = None
        # The selected folder whose view matched the cursor when it was examined:
        # any change since then reaches us as an untagged update (see watch()).
        self.watching: str | None = None

    # connecting ------------------------------------------------------------------

    @classmethod
    def connect(cls, settings: Settings, password: str) -> Wire:
        wire = cls(open_socket(settings))
        try:
            wire._login(settings, password)
        except BaseException:
            wire.close()
            raise
        return wire

    def _login(self, settings: Settings, password: str) -> None:
        self.counts[ACCOUNT] += 1
        try:
            self._client.login(settings.username, password)
        except LoginError as exc:
            if isinstance(exc.__context__, imaplib.IMAP4.abort):
                # imapclient wraps a connection lost mid-LOGIN (a restarting server)
                # in LoginError too; that is no verdict on the password.
                self.broken = True
                raise ConnectionLost("login: connection lost") from None
            if _TRANSIENT_LOGIN.search(str(exc).encode()):
                raise Transient(f"the server cannot log in {settings.username} right now") from None
            raise AuthFailed(f"the server refused the login for {settings.username}") from None
        except UnicodeEncodeError:
            raise AuthFailed("the password has characters IMAP LOGIN cannot carry") from None
        except (imaplib.IMAP4.abort, OSError) as exc:
            raise ConnectionLost(f"login: connection lost ({type(exc).__name__})") from None
        self._after_login()

    @guard("capabilities")
    def _after_login(self) -> None:
        if "CAPABILITY" not in self._client._imap.untagged_responses:
            self.counts[ACCOUNT] += 1  # the login response did not carry them: one more command
        self.caps = frozenset(
            c.decode("ascii", "replace").upper() for c in self._client.capabilities()
        )
        if "ID" in self.caps:
            # 163.com/126.com refuse SELECT ("Unsafe Login") until the client names itself.
            self.counts[ACCOUNT] += 1
            self._client.id_(CLIENT_ID)
        if "QRESYNC" in self.caps:
            self.counts[ACCOUNT] += 1
            enabled = {e.decode().upper() for e in self._client.enable("QRESYNC")}
            self.qresync = "QRESYNC" in enabled
        elif "CONDSTORE" in self.caps:
            self.counts[ACCOUNT] += 1
            self._client.enable("CONDSTORE")

    @property
    def condstore(self) -> bool:
        return "CONDSTORE" in self.caps or self.qresync

    def close(self) -> None:
        if self.broken:
            with contextlib.suppress(Exception):
                self._client.shutdown()
            return
        try:
            self._client.logout()
        except Exception:
            with contextlib.suppress(Exception):
                self._client.shutdown()

    # commands ----------------------------------------------------------------------

    @guard("LIST")
    def list_folders(self) -> list[ListedFolder]:
        self.counts[ACCOUNT] += 1
        rows = self._client.list_folders()
        result = []
        for flags, delimiter, name in rows:
            delim = delimiter.decode("utf-8", "replace") if isinstance(delimiter, bytes) else None
            result.append(
                ListedFolder(
                    # A folder named "2024" comes back as an int from the parser.
                    name=name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name),
                    flags=frozenset(f.decode("ascii", "replace").lower() for f in flags),
                    delimiter=delim,
                )
            )
        return result

    @guard("STATUS")
    def status(self, folder: str, items: Sequence[str]) -> dict[str, int]:
        if self.selected == folder:
            # Dovecot answers STATUS on the selected folder from the session's
            # stale view; a fresh answer needs the folder closed first.
            self.unselect()
        self.counts[folder] += 1
        raw = self._client.folder_status(folder, list(items))
        return {k.decode().upper(): int(v) for k, v in raw.items()}

    @guard("EXAMINE")
    def examine(self, folder: str) -> dict[str, int]:
        self.counts[folder] += 1
        self.selected = self.watching = None
        raw = self._client.select_folder(folder, readonly=True)
        self.selected = folder
        return {
            k.decode().upper(): v
            for k, v in raw.items()
            if isinstance(v, int) and not isinstance(v, bool)
        }

    @guard("SELECT")
    def select(self, folder: str) -> int:
        """Select `folder` read-write (for STORE); its UIDVALIDITY."""
        self.counts[folder] += 1
        self.selected = self.watching = None
        raw = self._client.select_folder(folder, readonly=False)
        self.selected = folder
        return int(raw.get(b"UIDVALIDITY", -1))

    @guard("UID STORE")
    def set_keyword(self, folder: str, uid: int, keyword: str, *, on: bool) -> None:
        self._require(folder)
        self.counts[folder] += 1
        self.watching = None
        change = self._client.add_flags if on else self._client.remove_flags
        change([uid], [keyword.encode("ascii")], silent=True)

    @guard("UID SEARCH")
    def search(self, folder: str, criteria: Sequence[str | date]) -> list[int]:
        self._require(folder)
        self.counts[folder] += 1
        self.watching = None  # its response handling may consume the folder's updates
        return sorted(int(u) for u in self._client.search(list(criteria)))

    def fetch(
        self,
        folder: str,
        uid_set: str,
        items: Sequence[str],
        modifiers: Sequence[str] = (),
    ) -> tuple[dict[int, dict[bytes, Any]], set[int]]:
        """UID FETCH over a sequence-set; returns (uid -> items, VANISHED UIDs)."""
        return self.fetch_answer(self.fetch_send(folder, uid_set, items, modifiers))

    @guard("UID FETCH")
    def fetch_send(
        self,
        folder: str,
        uid_set: str,
        items: Sequence[str],
        modifiers: Sequence[str] = (),
    ) -> PendingFetch:
        """Send a UID FETCH without waiting for its answer (pipelining).

        The server prepares the answer while we work on the previous one; the
        caller must collect every pending answer, in order, with `fetch_answer`
        (or `fetch_discard`) before any other command.
        """
        self._require(folder)
        self.counts[folder] += 1
        self.watching = None  # unsolicited FETCH updates are read with the answer
        imap = self._client._imap
        for stale in ("FETCH", "VANISHED"):
            imap.untagged_responses.pop(stale, None)  # left by other commands
        args = ["UID", "FETCH", uid_set, "(" + " ".join(items) + ")"]
        if modifiers:
            args.append("(" + " ".join(modifiers) + ")")
        return PendingFetch(imap._command(*args))

    @guard("UID FETCH")
    def fetch_answer(self, pending: PendingFetch) -> tuple[dict[int, dict[bytes, Any]], set[int]]:
        # Read and parse the response here rather than through imaplib's line loop
        # and imapclient's lexer: together they cost several times what the sync
        # does with the data (see fetchparse).
        typ, text, fetches, vanished_raw = read_tagged(self._client._imap, pending.tag)
        if typ != "OK":
            raise imaplib.IMAP4.error(f"FETCH {typ}: {short(Exception(text))}")
        return parse_fetches(fetches), _vanished(vanished_raw)

    def fetch_discard(self, pending: PendingFetch) -> None:
        """Read and drop an answer nobody wants any more (the reader stopped early),
        so the connection stays in step; a failure leaves it marked broken."""
        with contextlib.suppress(ConnectorError):
            self.fetch_answer(pending)

    def watch(self, folder: str) -> None:
        """Keep `folder` selected for cheap change checks with `poll_watched`.

        Call it right after an EXAMINE whose answer matched the cursor. From
        then on the server owes us an untagged EXISTS / EXPUNGE / VANISHED /
        FETCH for every change, and only commands that do not read the folder
        (STATUS of other folders, LIST, NOOP) may run, or the watch ends.
        """
        self._require(folder)
        untagged = self._client._imap.untagged_responses
        for key in _UPDATES:
            untagged.pop(key, None)  # those of the EXAMINE itself
        self.watching = folder

    @guard("NOOP")
    def poll_watched(self) -> bool:
        """One NOOP: True when the watched folder changed since `watch` (the watch ends)."""
        folder = self.watching
        if folder is None or self.selected != folder:
            raise imaplib.IMAP4.error("internal: no folder is watched")
        self.counts[folder] += 1
        imap = self._client._imap
        typ, data = imap._simple_command("NOOP")
        if typ != "OK":
            raise imaplib.IMAP4.error(f"NOOP {typ}: {short(Exception(data))}")
        updates = [imap.untagged_responses.pop(key, None) for key in _UPDATES]
        if any(updates):
            self.watching = None
            return True
        return False

    @guard("UNSELECT")
    def unselect(self) -> None:
        self.watching = None
        if self.selected is None:
            return
        self.counts[self.selected] += 1
        if "UNSELECT" in self.caps:
            self._client.unselect_folder()
        else:
            self._client.close_folder()  # read-only: CLOSE expunges nothing
        self.selected = None

    def _require(self, folder: str) -> None:
        if self.selected != folder:
            raise imaplib.IMAP4.error(f"internal: {folder!r} is not selected")


@dataclass(frozen=True, slots=True)
class PendingFetch:
    tag: bytes


# Untagged responses by which a server reports a change in the selected folder.
_UPDATES = ("EXISTS", "RECENT", "EXPUNGE", "FETCH", "VANISHED")


def _vanished(lines: list[Any]) -> set[int]:
    from connectors.imap.cursor import expand

    uids: set[int] = set()
    for line in lines:
        text = line.decode("ascii", "replace") if isinstance(line, bytes) else str(line)
        text = re.sub(r"\(EARLIER\)", "", text, flags=re.I).strip()
        with contextlib.suppress(ValueError):
            uids |= expand(text)
    return uids
