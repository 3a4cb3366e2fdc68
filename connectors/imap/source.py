"""ImapMailbox: the MailSource for IMAP servers.

Refs are ``"<UIDVALIDITY>:<UID>:<folder>"`` (see normalize.py); the cursor is
the JSON described in cursor.py. A dropped connection is retried a few times
with jittered exponential backoff and the sync resumes from the last state it
handed out, so nothing is lost or repeated. A small loop rather than tenacity:
resuming a generator mid-folder needs the loop's state anyway, and it saves a
dependency.
"""

from __future__ import annotations

import functools
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar, TypeVar

from connectors.base import Scope
from connectors.errors import ConfigProblem, ConnectorError, Permanent, Severity, Transient
from connectors.imap import folders as folder_rules
from connectors.imap.client import ACCOUNT, Wire
from connectors.imap.cursor import Cursor, compact
from connectors.imap.errors import CommandFailed, ConnectionLost
from connectors.imap.idle import IdleWatcher
from connectors.imap.normalize import make_ref, parse_ref
from connectors.imap.settings import Settings
from connectors.imap.sync import Plan, sync_folder
from connectors.model import Capabilities, ChangeBatch, Folder, MessageGone

log = logging.getLogger(__name__)

T = TypeVar("T")
_FIELD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_MAX_DELAY = 60.0


@dataclass
class SyncStats:
    """IMAP commands issued since the last fetch_changes started (or since open)."""

    per_folder: dict[str, int] = field(default_factory=dict)
    account: int = 0  # LOGIN, CAPABILITY, ID, ENABLE, LIST: not tied to a folder
    reconnects: int = 0
    messages: int = 0  # header blocks fetched

    @property
    def total(self) -> int:
        return self.account + sum(self.per_folder.values())


class FolderFailed(ConnectorError):
    severity = Severity.FOLDER


class ImapMailbox:
    kind: ClassVar[str] = "imap"

    def __init__(
        self,
        settings: Settings,
        *,
        attempts: int = 4,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        connect: Callable[[Settings, str], Wire] = Wire.connect,
    ) -> None:
        problems = settings.problems()
        if problems:
            raise ConfigProblem("; ".join(problems))
        self.settings = settings
        self._attempts = attempts
        self._backoff = backoff
        self._sleep = sleep
        self._connect = connect
        self._wire: Wire | None = None
        self._counts: Counter[str] = Counter()
        self._reconnects = 0
        self._messages = 0
        self._idle: IdleWatcher | None = None  # its own connection, made on first wait
        # (wire, folder, uidvalidity) fetch_raw last examined: bodies come in runs per folder,
        # and re-examining a large folder for every body costs the server real work.
        self._examined: tuple[Wire, str, int] | None = None
        self._idle_lock = threading.Lock()

    # lifecycle ---------------------------------------------------------------------

    def open(self) -> None:
        self._live()

    def close(self) -> None:
        """Close both connections; safe to call from another thread to end a wait."""
        with self._idle_lock:
            watcher, self._idle = self._idle, None
        if watcher is not None:
            watcher.close()
        self._examined = None
        if self._wire is not None:
            self._wire.close()
            self._wire = None

    def __enter__(self) -> ImapMailbox:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stats(self) -> SyncStats:
        per_folder = {k: v for k, v in self._counts.items() if k != ACCOUNT}
        return SyncStats(per_folder, self._counts[ACCOUNT], self._reconnects, self._messages)

    # MailSource ----------------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        # Keywords are base IMAP (RFC 3501 STORE): every server can carry gw: tags.
        return Capabilities(names=self._retrying(lambda w: w.caps))

    def tag_message(self, ref: str, tag: str, *, on: bool) -> bool:
        """STORE +/-FLAGS (tag) on the message, if it is still where the ref says."""
        try:
            uidvalidity, uid, folder = parse_ref(ref)
        except ValueError:
            raise Permanent(f"not an IMAP ref: {ref[:80]!r}") from None

        def store(wire: Wire) -> bool:
            self._examined = None
            try:
                if wire.select(folder) != uidvalidity:
                    return False
            except CommandFailed:
                return False  # the folder itself is gone
            wire.set_keyword(folder, uid, tag, on=on)
            return True

        return self._retrying(store)

    def folders(self) -> list[Folder]:
        return [folder for folder, _ in self._retrying(self._roles)]

    def fetch_raw(self, ref: str, *, max_bytes: int) -> bytes | None:
        return self.fetch_raw_many([ref], max_bytes=max_bytes)[ref]

    def fetch_raw_many(self, refs: Sequence[str], *, max_bytes: int) -> dict[str, bytes | None]:
        """fetch_raw for several refs: one UID FETCH per run of refs in the same folder.

        The body pass after a first sync reads a thousand or more suspected
        bounces and auto-replies; one round trip each was most of its time.
        """
        runs: list[tuple[tuple[str, int], dict[int, str]]] = []
        for ref in refs:
            try:
                uidvalidity, uid, folder = parse_ref(ref)
            except ValueError:
                raise Permanent(f"not an IMAP ref: {ref[:80]!r}") from None
            if not runs or runs[-1][0] != (folder, uidvalidity):
                runs.append(((folder, uidvalidity), {}))
            runs[-1][1][uid] = ref
        found: dict[str, bytes | None] = dict.fromkeys(refs)
        item = f"BODY.PEEK[]<0.{max(0, max_bytes)}>"
        for (folder, uidvalidity), run in runs:
            fetch = functools.partial(self._bodies, folder=folder, uidvalidity=uidvalidity,
                                      run=run, item=item)  # fmt: skip
            found.update(self._retrying(fetch))
        return found

    def _bodies(
        self, wire: Wire, *, folder: str, uidvalidity: int, run: dict[int, str], item: str
    ) -> dict[str, bytes | None]:
        known = self._examined
        if known is None or known[0] is not wire or known[1] != folder:
            self._examined = None
            try:
                sel = wire.examine(folder)
            except CommandFailed:
                return {}  # the folder itself is gone
            known = (wire, folder, int(sel.get("UIDVALIDITY", -1)))
            self._examined = known
        if known[2] != uidvalidity:
            return {}
        rows, _ = wire.fetch(folder, compact(run), [item])
        out: dict[str, bytes | None] = {}
        for uid, items in rows.items():
            for key, value in items.items():
                # With the folder still selected, a message another client expunged
                # may come back empty until the server reports the expunge.
                if key.upper().startswith(b"BODY[]") and uid in run:
                    out[run[uid]] = value if isinstance(value, bytes) and value else None
        return out

    def fetch_changes(
        self,
        cursor: str | None,
        *,
        since: datetime,
        header_fields: Sequence[str],
        scope: Scope = "all",
    ) -> Iterator[ChangeBatch]:
        self._reset_stats()
        self._examined = None  # the sync selects other folders
        start = Cursor.load(cursor)  # an unreadable cursor raises CursorExpired before any work
        return self._sync(start, since, header_fields, scope)

    def wait_for_changes(self, timeout: float) -> bool:
        """Block until the Inbox changes (True) or `timeout` seconds pass (False).

        Uses IMAP IDLE on a second connection, never the one fetch_changes
        uses; True also after a reconnect (changes during the gap went unseen).
        Without IDLE on the server it sleeps and returns False: the daemon polls.
        Raises Transient when the server stays unreachable for the whole wait.
        """
        with self._idle_lock:
            if self._idle is None:
                self._idle = IdleWatcher(self.settings, connect=self._connect)
            watcher = self._idle
        return watcher.wait(timeout)

    # internals -----------------------------------------------------------------------

    def _sync(
        self,
        state: Cursor,
        since: datetime,
        header_fields: Sequence[str],
        scope: Scope,
    ) -> Iterator[ChangeBatch]:
        listed, watched, plan = self._prepare(since, header_fields, scope)
        last: str | None = None
        done = planned = 0
        if scope == "all":
            for batch in self._forget_folders(state, listed, watched):
                state = Cursor.load(batch.cursor)
                last = batch.cursor
                yield batch
        failed: list[str] = []
        pending = list(watched)
        attempt = 0
        while pending:
            folder = pending[0]
            fetched_here = 0  # in this attempt at the folder
            try:
                wire = self._live()
                for step in sync_folder(wire, folder, state.folders.get(folder.name), plan):
                    state = state.with_folder(folder.name, step.state)
                    done += step.fetched
                    fetched_here += step.fetched
                    self._messages += step.fetched
                    if step.planned:
                        planned = max(planned, done + step.planned - fetched_here)
                    if step.changes or step.rescanned:
                        last = state.dump()
                        attempt = 0  # progress made: a later drop gets a fresh set of retries
                        rescanned = (folder.name,) if step.rescanned else ()
                        yield ChangeBatch(tuple(step.changes), last, rescanned, (done, planned))
                pending.pop(0)
            except ConnectionLost as exc:
                attempt += 1
                self._drop_wire()
                if attempt >= self._attempts:
                    raise Transient(
                        f"{exc} (gave up after {attempt} attempts)", hint=exc.hint
                    ) from None
                self._pause(attempt)
            except CommandFailed as exc:
                log.warning("skipping folder %s this cycle: %s", folder.name, exc)
                failed.append(folder.name)
                pending.pop(0)
        final = state.dump()
        if last is None or final != last:
            # Always at least one batch, so the caller can store the cursor of a quiet cycle.
            yield ChangeBatch((), final, (), (done, planned))
        if failed:
            raise FolderFailed(f"could not read folder(s) {', '.join(failed)} this cycle")

    def _forget_folders(
        self, state: Cursor, listed: list[Folder], watched: list[Folder]
    ) -> Iterator[ChangeBatch]:
        """Folders deleted on the server: their messages are gone. Folders merely no
        longer watched (config changed) are forgotten quietly."""
        existing = {f.name for f in listed}
        names = {f.name for f in watched}
        for name, folder_state in sorted(state.folders.items()):
            if name in names:
                continue
            state = state.with_folder(name, None)
            if name in existing:
                log.info("folder %s is no longer watched; forgetting its sync state", name)
                continue
            gone = [
                MessageGone(make_ref(folder_state.uidvalidity, uid, name), name)
                for uid in sorted(folder_state.uids)
            ]
            chunk = self.settings.fetch_chunk
            for start in range(0, max(len(gone), 1), chunk):
                yield ChangeBatch(tuple(gone[start : start + chunk]), state.dump(), (name,))

    def _prepare(
        self, since: datetime, header_fields: Sequence[str], scope: Scope
    ) -> tuple[list[Folder], list[Folder], Plan]:
        roles = self._retrying(self._roles)
        watched = folder_rules.watched(
            roles,
            include=self.settings.folders,
            exclude=self.settings.exclude_folders,
            inbound_only=scope == "inbound",
        )
        fields = [f.upper() for f in header_fields if _FIELD.match(f)]
        body = f"BODY.PEEK[HEADER.FIELDS ({' '.join(fields)})]" if fields else "BODY.PEEK[HEADER]"
        wire = self._live()
        extra = ["X-GM-THRID"] if "X-GM-EXT-1" in wire.caps else []
        # SINCE compares dates in the server's time zone: start a day early rather
        # than miss a message from the evening before.
        day = (since - timedelta(days=1)).date()
        plan = Plan(
            items=["UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", body],
            chunk=self.settings.fetch_chunk,
            since=day,
            extra_items=extra,
        )
        return [f for f, _ in roles], watched, plan

    def _roles(self, wire: Wire) -> list[tuple[Folder, bool]]:
        return folder_rules.assign_roles(
            wire.list_folders(),
            sent_folder=self.settings.sent_folder,
            drafts_folder=self.settings.drafts_folder,
        )

    def _live(self) -> Wire:
        if self._wire is None or self._wire.broken:
            self._drop_wire()
            password = self.settings.password.resolve() if self.settings.password else ""
            wire = self._connect(self.settings, password)
            self._counts.update(wire.counts)  # LOGIN, ID, ENABLE of this connection
            wire.counts = self._counts
            self._wire = wire
        return self._wire

    def _drop_wire(self) -> None:
        if self._wire is not None:
            self._reconnects += 1
            self._wire.close()
            self._wire = None

    def _retrying(self, action: Callable[[Wire], T]) -> T:
        for attempt in range(1, self._attempts + 1):
            try:
                return action(self._live())
            except ConnectionLost as exc:
                self._drop_wire()
                if attempt >= self._attempts:
                    raise Transient(
                        f"{exc} (gave up after {attempt} attempts)", hint=exc.hint
                    ) from None
                self._pause(attempt)
        raise AssertionError("unreachable")

    def _pause(self, attempt: int) -> None:
        delay = min(_MAX_DELAY, self._backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
        log.info("IMAP connection to %s lost; retrying in %.1fs", self.settings.host, delay)
        self._sleep(delay)

    def _reset_stats(self) -> None:
        self._counts.clear()
        self._reconnects = 0
        self._messages = 0
