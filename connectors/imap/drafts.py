"""DraftSink over the IMAP Drafts folder, idempotent by X-Ghostwatch-Key.

A draft's ref is the MailSource's own (`<UIDVALIDITY>:<UID>:<folder>`), so the
daemon sees its draft come and go in the Drafts folder. IMAP messages are
immutable: a client that "edits" a draft APPENDs a new message and deletes the
old one, so an edit shows up as the key living at another UID.

The Drafts folder is found like every other role (SPECIAL-USE, then localized
names, then the `drafts_folder` setting), never by a fixed name. One
connection, opened lazily and reopened after a drop; reads are retried once on
a fresh connection (the connection idles between cycles and servers or NATs
drop idle ones), an APPEND never is: the daemon retries it, and the retry's
find_draft sees the draft if the lost APPEND had landed.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from imapclient import IMAPClient

from connectors.base import DraftState
from connectors.compose import KEY_HEADER, build_draft, content_hash
from connectors.errors import ConfigProblem, Permanent, Transient, Unsupported
from connectors.header_split import split_header_block
from connectors.imap import folders as folder_rules
from connectors.imap.client import Wire
from connectors.imap.errors import CommandFailed, ConnectionLost
from connectors.imap.normalize import make_ref, parse_ref
from connectors.imap.settings import Settings
from connectors.model import DraftRef, DraftSpec, FolderRole

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_DRAFT_BYTES = 10 << 20  # ours are small; a bigger message cannot hash like one of ours
DRAFT_FLAGS = (b"\\Draft", b"\\Seen")  # what mail clients set on saved drafts
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]", re.I)
# Mirrors compose.build_draft, which strips these before writing the header.
_KEY_JUNK = re.compile(r"[\s<>\x00-\x1f\x7f]+")
_MAX_KEY = 900
# A key made of these can go into SEARCH as an atom; anything else is searched
# by the header's presence and matched exactly here (no quoting or CHARSET games).
_SEARCHABLE = re.compile(r"^[A-Za-z0-9._@+=/-]+$")
_KEY_FIELD = f"BODY.PEEK[HEADER.FIELDS ({KEY_HEADER.upper()})]"
_BODY = f"BODY.PEEK[]<0.{MAX_DRAFT_BYTES}>"

# What draft_state/withdraw found: the state and, when untouched, the UID to withdraw.
Assessment = tuple[DraftState, int | None]


class ImapDrafts:
    """The DraftSink of one IMAP account. `open()`/`close()` are optional: the
    first call connects. Not thread-safe: one cycle at a time uses it."""

    def __init__(
        self, settings: Settings, *, connect: Callable[[Settings, str], Wire] = Wire.connect
    ) -> None:
        problems = settings.problems()
        if problems:
            raise ConfigProblem("; ".join(problems))
        self.settings = settings
        self._connect = connect
        self._wire: Wire | None = None
        self._folder = ""

    # lifecycle -----------------------------------------------------------------

    def open(self) -> None:
        """Connect and find the Drafts folder; raises Unsupported when there is none."""
        self._live()

    def close(self) -> None:
        if self._wire is not None:
            self._wire.close()
            self._wire = None

    def __enter__(self) -> ImapDrafts:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def folder(self) -> str:
        """The Drafts folder's name (after open())."""
        return self._folder

    # DraftSink -----------------------------------------------------------------

    def find_draft(self, key: str) -> DraftRef | None:
        return self._twice(lambda: self._find(key))

    def create_draft(self, spec: DraftSpec) -> DraftRef:
        existing = self.find_draft(spec.key)
        if existing is not None:
            return existing
        raw = build_draft(spec)  # raises Permanent for unusable addresses, before any APPEND
        uid_hint = self._append(spec.key, raw, spec.date)
        made = self._twice(lambda: self._stored(spec.key, uid_hint))
        if made is None:
            # Accepted but not visible: a retry finds it, or appends it if it was lost.
            raise Transient(f"the draft for {spec.key} was accepted but is not in {self._folder}")
        return made

    def draft_state(self, ref: DraftRef) -> DraftState:
        target = _parse(ref)
        return self._twice(lambda: self._assess(ref, target, readonly=True))[0]

    def withdraw_draft(self, ref: DraftRef) -> bool:
        """Delete the draft only if untouched, and nothing else.

        With UIDPLUS: UID STORE +FLAGS (\\Deleted), then UID EXPUNGE of that UID.
        Without it the draft is left flagged \\Deleted and True returned: a plain
        EXPUNGE would also remove every other message the user has flagged
        \\Deleted in Drafts, and find_draft/draft_state already treat a
        \\Deleted draft as gone. The user's client expunges it on its next purge.
        """
        target = _parse(ref)
        state, uid = self._twice(lambda: self._assess(ref, target, readonly=False))
        if state != "untouched" or uid is None:
            return False
        # Not retried: after a drop mid-way the draft may already be flagged, and the
        # next cycle's draft_state reports it gone, which is the truth by then.
        with self._io("withdraw draft") as client:  # Drafts is still selected read-write
            client.add_flags([uid], [b"\\Deleted"], silent=True)  # UID STORE: this message only
            if "UIDPLUS" in self._live().caps:
                client.uid_expunge([uid])
            else:
                log.info(
                    "draft %s flagged \\Deleted in %s; no UIDPLUS, so it is not expunged",
                    ref.key,
                    self._folder,
                )
        return True

    # operations (one attempt each) -------------------------------------------------

    def _find(self, key: str) -> DraftRef | None:
        with self._io("find draft") as client:
            uidvalidity = _select(client, self._folder, readonly=True)
            uids = _keyed(client, key)
            if not uids:
                return None
            uid = uids[-1]  # several: a client's re-save (higher UID) is the live one
            raw = _body(client, uid)
        if raw is None:
            return None  # expunged between SEARCH and FETCH
        return DraftRef(key, make_ref(uidvalidity, uid, self._folder), content_hash(raw))

    def _append(self, key: str, raw: bytes, when: datetime | None) -> int | None:
        """APPEND the draft; the UID from APPENDUID when the server offers UIDPLUS."""
        with self._io("APPEND") as client:
            try:
                response = client.append(self._folder, raw, flags=DRAFT_FLAGS, msg_time=when)
            except imaplib.IMAP4.abort:
                raise  # a lost connection, not a refusal: _io makes it Transient
            except imaplib.IMAP4.error as exc:
                # The server's reason ([OVERQUOTA], [TOOBIG]...) never echoes the message.
                raise Permanent(
                    f"{self.settings.host} refused the draft for {key} in {self._folder}: "
                    f"{_reason(exc)}"
                ) from None
        if "UIDPLUS" not in self._live().caps:
            return None
        match = _APPENDUID.search(response if isinstance(response, bytes) else b"")
        return int(match.group(2)) if match else None

    def _stored(self, key: str, uid_hint: int | None) -> DraftRef | None:
        """The draft as the server stored it (hashed from a fresh FETCH, so a server
        that rewrites line endings or adds headers does not look like an edit later)."""
        if uid_hint is None:
            return self._find(key)  # no APPENDUID: the header search finds it
        with self._io("fetch new draft") as client:
            uidvalidity = _select(client, self._folder, readonly=True)
            raw = _body(client, uid_hint)
        if raw is None or _key_of(raw) != _header_key(key):
            return self._find(key)  # not where APPENDUID said (UIDVALIDITY moved on?)
        return DraftRef(key, make_ref(uidvalidity, uid_hint, self._folder), content_hash(raw))

    def _assess(self, ref: DraftRef, target: tuple[int, int, str], *, readonly: bool) -> Assessment:
        uidvalidity, uid, folder = target
        with self._io("draft state") as client:
            current = _select(client, self._folder, readonly=readonly)
            keyed = _keyed(client, ref.key)
            if folder == self._folder and current == uidvalidity:
                if uid not in keyed:
                    # Deleted (or flagged \Deleted), or re-saved by a client under a new UID.
                    return ("edited" if keyed else "gone"), None
                if len(keyed) > 1:
                    return "edited", None  # the user saved a copy next to ours
            else:
                # UIDVALIDITY changed (server migration) or the Drafts folder moved:
                # old UIDs mean nothing, the key and the content still do.
                if not keyed:
                    return "gone", None
                if len(keyed) > 1:
                    return "edited", None
                uid = keyed[0]
            raw = _body(client, uid)
        if raw is None:
            return "gone", None
        return ("untouched", uid) if content_hash(raw) == ref.content_hash else ("edited", None)

    # connection ------------------------------------------------------------------

    def _live(self) -> Wire:
        if self._wire is None or self._wire.broken:
            self._drop()
            password = self.settings.password.resolve() if self.settings.password else ""
            wire = self._connect(self.settings, password)
            try:
                self._folder = self._drafts_folder(wire)
            except BaseException:
                wire.close()
                raise
            self._wire = wire
        return self._wire

    def _drop(self) -> None:
        if self._wire is not None:
            self._wire.broken = True  # do not wait for a LOGOUT answer on a dead line
            self._wire.close()
            self._wire = None

    def _drafts_folder(self, wire: Wire) -> str:
        roles = folder_rules.assign_roles(
            wire.list_folders(),
            sent_folder=self.settings.sent_folder,
            drafts_folder=self.settings.drafts_folder,
        )
        for folder, _ in roles:
            if folder.role is FolderRole.DRAFTS:
                return folder.name
        host, wanted = self.settings.host, self.settings.drafts_folder
        if wanted:
            raise Unsupported(
                f"{host} has no folder named {wanted!r} (drafts_folder)",
                hint="set drafts_folder to the folder your mail client keeps drafts in",
            )
        raise Unsupported(
            f"{host} has no Drafts folder: none is marked \\Drafts and none has a known name",
            hint="set drafts_folder to the folder your mail client keeps drafts in",
        )

    @contextlib.contextmanager
    def _io(self, what: str) -> Iterator[IMAPClient]:
        """The live connection's client; socket and protocol failures become our errors,
        without server text that might echo message content."""
        wire = self._live()
        try:
            # imapclient is private to this package's Wire; drafts need commands
            # (APPEND, STORE, EXPUNGE) the read-only source never issues.
            yield wire._client
        except (imaplib.IMAP4.abort, OSError, EOFError) as exc:
            self._drop()
            raise ConnectionLost(f"{what}: connection lost ({type(exc).__name__})") from None
        except imaplib.IMAP4.error as exc:
            reason = _reason(exc)
            raise CommandFailed(f"{what} in {self._folder}: server refused ({reason})") from None

    def _twice(self, action: Callable[[], T]) -> T:
        """Run an idempotent operation, once more on a new connection if the old one was dead."""
        try:
            return action()
        except ConnectionLost as exc:
            log.info("drafts connection to %s lost (%s); reconnecting", self.settings.host, exc)
            return action()


# helpers -------------------------------------------------------------------------


def _parse(ref: DraftRef) -> tuple[int, int, str]:
    try:
        return parse_ref(ref.ref)
    except ValueError:
        raise Permanent(f"not an IMAP draft ref: {ref.ref[:80]!r}") from None


def _select(client: IMAPClient, folder: str, *, readonly: bool) -> int:
    """(Re)select the folder, so this command sees other clients' changes; its UIDVALIDITY."""
    info = client.select_folder(folder, readonly=readonly)
    return int(info.get(b"UIDVALIDITY", 0))


def _header_key(key: str) -> str:
    return _KEY_JUNK.sub("", key)[:_MAX_KEY]


def _keyed(client: IMAPClient, key: str) -> list[int]:
    """UIDs of the undeleted messages whose X-Ghostwatch-Key is exactly `key`, ascending.

    SEARCH HEADER matches substrings ("seq4.1" finds "seq4.10"), so every hit is
    checked against the header itself.
    """
    value = _header_key(key)
    needle = value if _SEARCHABLE.match(value) else ""  # "": every message with the header
    hits = client.search(["UNDELETED", "HEADER", KEY_HEADER, needle])
    if not hits:
        return []
    rows = client.fetch(hits, [_KEY_FIELD])
    exact = [int(uid) for uid, row in rows.items() if _key_of(_part(row, b"BODY[")) == value]
    return sorted(exact)


def _body(client: IMAPClient, uid: int) -> bytes | None:
    rows = client.fetch([uid], [_BODY])
    row = rows.get(uid)
    return None if row is None else _part(row, b"BODY[]")


def _part(row: dict[bytes, Any], prefix: bytes) -> bytes:
    for name, value in row.items():
        if isinstance(name, bytes) and name.upper().startswith(prefix):
            return value if isinstance(value, bytes) else b""
    return b""


def _key_of(raw: bytes) -> str | None:
    values = split_header_block(raw).get(KEY_HEADER.lower())
    return values[0].strip() if values else None


def _reason(exc: BaseException) -> str:
    """The server's words, one line, short; imapclient prefixes the command name."""
    text = str(exc).replace("\r", " ").replace("\n", " ")
    text = re.sub(r"^\w+ failed: ", "", text)
    return text[:160]
