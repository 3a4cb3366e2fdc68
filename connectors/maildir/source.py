"""MailSource over a Maildir tree: directory listings diffed against the cursor."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from connectors.base import Scope
from connectors.errors import ConfigProblem
from connectors.headers import ALWAYS_KEEP, parse_header_block
from connectors.maildir import cursor as cur
from connectors.maildir.files import (
    find_file,
    flags_of,
    list_messages,
    read_header_block,
    split_name,
)
from connectors.maildir.layout import MaildirFolder, discover
from connectors.maildir.settings import Settings
from connectors.messages import build_message
from connectors.model import (
    Capabilities,
    Change,
    ChangeBatch,
    Folder,
    FolderRole,
    MessageGone,
    Skipped,
    TagsChanged,
)

log = logging.getLogger(__name__)

_OUTBOUND = (FolderRole.SENT, FolderRole.DRAFTS)
_NOT_INBOUND = (FolderRole.SENT, FolderRole.DRAFTS, FolderRole.TRASH, FolderRole.JUNK)
# A directory changed this recently may change again within the same mtime tick;
# its mtime is then not trusted to prove "nothing new" on the next scan.
_MTIME_SETTLE_NS = 2_000_000_000


@dataclass(frozen=True, slots=True)
class _Item:
    kind: str  # "new" | "changed" | "gone"
    folder: MaildirFolder
    unique: str
    path: str = ""
    letters: str = ""
    fingerprint: str = ""


def resolve_folders(settings: Settings) -> list[MaildirFolder]:
    """The tree's folders with the Sent/Drafts overrides from the settings applied."""
    folders = discover(settings.root, settings.layout)
    overrides = {settings.sent_folder: FolderRole.SENT, settings.drafts_folder: FolderRole.DRAFTS}
    return [
        MaildirFolder(f.name, f.path, overrides[f.name]) if f.name in overrides else f
        for f in folders
    ]


class MaildirSource:
    kind: ClassVar[str] = "maildir"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._folders: dict[str, MaildirFolder] = {}

    def open(self) -> None:
        root = self.settings.root
        if not os.path.isdir(root):
            raise ConfigProblem(
                f"maildir path {root} is not a directory",
                hint="point `path` at the Maildir tree your sync tool writes",
            )
        names = {f.name for f in self._refresh()}
        missing = [n for n in self.settings.folders or () if _canonical(n) not in names]
        if missing:
            raise ConfigProblem(
                f"maildir folders not found: {', '.join(missing)}",
                hint=f"known folders: {', '.join(sorted(names))}",
            )

    def close(self) -> None:
        self._folders = {}

    def capabilities(self) -> Capabilities:
        return Capabilities(frozenset({"fetch_raw", "flags", "tags:header", "drafts"}))

    def folders(self) -> list[Folder]:
        return [f.as_folder() for f in self._refresh()]

    def _refresh(self) -> list[MaildirFolder]:
        folders = resolve_folders(self.settings)
        self._folders = {f.name: f for f in folders}
        return folders

    def _watched(self, scope: Scope) -> list[MaildirFolder]:
        wanted = {_canonical(n) for n in self.settings.folders or ()}
        chosen = []
        for f in self._refresh():
            inbound = f.name in wanted if self.settings.folders else f.role not in _NOT_INBOUND
            if inbound or (scope == "all" and f.role in _OUTBOUND):
                chosen.append(f)
        return chosen

    def fetch_raw(self, ref: str, *, max_bytes: int) -> bytes | None:
        name, _, unique = ref.rpartition("/")
        folder = self._folders.get(name) or {f.name: f for f in self._refresh()}.get(name)
        if folder is None or not unique:
            return None
        path = find_file(folder.path, unique)
        if path is None:
            return None
        try:
            with open(path, "rb") as fh:
                return fh.read(max(0, max_bytes))
        except FileNotFoundError:
            return None

    def fetch_changes(
        self,
        cursor: str | None,
        *,
        since: datetime,
        header_fields: Sequence[str],
        scope: Scope = "all",
    ) -> Iterator[ChangeBatch]:
        states = cur.decode(cursor) if cursor else {}
        wanted = frozenset(h.lower() for h in header_fields) | ALWAYS_KEEP
        scan = _Scan(states, since, wanted, max(1, self.settings.batch_size))
        watched = self._watched(scope)
        plan: list[tuple[MaildirFolder, list[_Item], tuple[int, int] | None]] = []
        for folder in watched:
            state = states.setdefault(folder.name, cur.FolderState())
            plan.append((folder, *_plan_folder(folder, state)))
        if scope == "all":
            plan += _vanished_folders(states, {f.name for f in watched})
        yield from scan.run(plan)


def _canonical(name: str) -> str:
    return "INBOX" if name.upper() == "INBOX" else name.strip("/")


def _dir_mtimes(folder: MaildirFolder) -> tuple[int, int] | None:
    try:
        return tuple(  # type: ignore[return-value]
            os.stat(os.path.join(folder.path, sub)).st_mtime_ns for sub in ("new", "cur")
        )
    except OSError:
        return None


def _plan_folder(
    folder: MaildirFolder, state: cur.FolderState
) -> tuple[list[_Item], tuple[int, int] | None]:
    """What changed in one folder, from its listing; no message file is opened."""
    mtimes = _dir_mtimes(folder)  # taken before listing: a later change moves it
    if state.complete and mtimes is not None and mtimes == state.dir_mtimes:
        return [], mtimes
    if mtimes is not None and time.time_ns() - max(mtimes) < _MTIME_SETTLE_NS:
        mtimes = None
    items: list[_Item] = []
    present = list_messages(folder.path)
    for unique, (sub, filename) in present.items():
        path = os.path.join(folder.path, sub, filename)
        letters = split_name(filename)[1]
        entry = state.known.get(unique)
        if entry is None:
            items.append(_Item("new", folder, unique, path, letters))
            continue
        try:
            st = os.stat(path)
        except FileNotFoundError:
            mtimes = None  # moved while we looked: the next scan sees where it went
            continue
        fp = cur.fingerprint(st.st_size, st.st_mtime_ns)
        if letters != entry.letters or fp != entry.fingerprint:
            items.append(_Item("changed", folder, unique, path, letters, fp))
    items += [_Item("gone", folder, u) for u in state.known if u not in present]
    return items, mtimes


def _vanished_folders(
    states: dict[str, cur.FolderState], watched: set[str]
) -> list[tuple[MaildirFolder, list[_Item], tuple[int, int] | None]]:
    """Folders in the cursor that are gone or no longer watched: their messages left."""
    plan = []
    for name in [n for n in states if n not in watched]:
        folder = MaildirFolder(name, "", FolderRole.OTHER)
        plan.append((folder, [_Item("gone", folder, u) for u in states[name].known], None))
    return plan


class _Scan:
    """Applies planned items to the cursor state and cuts batches."""

    def __init__(
        self,
        states: dict[str, cur.FolderState],
        since: datetime,
        wanted: frozenset[str],
        batch_size: int,
    ) -> None:
        self.states = states
        self.since = since
        self.wanted = wanted
        self.batch_size = batch_size
        self.now = datetime.now(UTC)

    def run(
        self, plan: list[tuple[MaildirFolder, list[_Item], tuple[int, int] | None]]
    ) -> Iterator[ChangeBatch]:
        total = sum(len(items) for _, items, _ in plan)
        done = 0
        pending: list[Change] = []
        unbatched = 0  # items applied since the last batch, reported or not
        for folder, items, mtimes in plan:
            state = self.states[folder.name]
            settled = True
            for item in items:
                change, applied = self._apply(item, state)
                settled = settled and applied
                done += 1
                unbatched += 1
                if change is not None:
                    pending.append(change)
                if len(pending) >= self.batch_size or unbatched >= 10 * self.batch_size:
                    yield self._batch(pending, done, total)
                    pending, unbatched = [], 0
            if not folder.path:
                del self.states[folder.name]
            elif settled:
                state.complete = True
                state.dir_mtimes = mtimes
        yield self._batch(pending, done, total)

    def _batch(self, changes: list[Change], done: int, total: int) -> ChangeBatch:
        return ChangeBatch(tuple(changes), cur.encode(self.states), progress=(done, total))

    def _apply(self, item: _Item, state: cur.FolderState) -> tuple[Change | None, bool]:
        """The change to report for one item (or None) and whether it was settled."""
        ref = f"{item.folder.name}/{item.unique}"
        if item.kind == "gone":
            entry = state.known.pop(item.unique, None)
            if entry is None or entry.hidden:
                return None, True
            return MessageGone(ref=ref, folder=item.folder.name), True
        old = state.known.get(item.unique)
        if item.kind == "changed" and old is not None and item.fingerprint == old.fingerprint:
            # Only the flags in the file name changed: the header was not touched.
            return self._retagged(item, state, old, item.fingerprint, old.tags), True
        try:
            st = os.stat(item.path)
            block, cut = read_header_block(item.path)
        except FileNotFoundError:
            return None, False
        except OSError as exc:
            log.warning("maildir: cannot read %s: %s", item.path, exc.strerror)
            state.known[item.unique] = cur.Entry(item.letters, "", "")
            return Skipped(ref, item.folder.name, f"unreadable: {exc.strerror}"), True
        fp = cur.fingerprint(st.st_size, st.st_mtime_ns)
        parsed = parse_header_block(block)
        tags = " ".join(sorted(parsed.tags))
        if item.kind == "changed" and old is not None:
            return self._retagged(item, state, old, fp, tags), True
        received = datetime.fromtimestamp(st.st_mtime, UTC)
        if not state.complete:
            when = parsed.date
            if when is None or when > self.now + timedelta(days=1):
                when = received
            if when < self.since:
                state.known[item.unique] = cur.Entry(item.letters, fp, tags, hidden=True)
                return None, True
        state.known[item.unique] = cur.Entry(item.letters, fp, tags)
        return build_message(
            block,
            ref=ref,
            folder=item.folder.name,
            role=item.folder.role,
            received=received,
            wanted=self.wanted,
            parsed=parsed,
            flags=flags_of(item.letters),
            size=st.st_size,
            problems=(f"header block cut at {len(block)} bytes",) if cut else (),
        ), True

    def _retagged(
        self, item: _Item, state: cur.FolderState, old: cur.Entry, fp: str, tags: str
    ) -> TagsChanged | None:
        state.known[item.unique] = cur.Entry(item.letters, fp, tags, old.hidden)
        if old.hidden or (old.letters, old.tags) == (item.letters, tags):
            return None
        return TagsChanged(
            ref=f"{item.folder.name}/{item.unique}",
            folder=item.folder.name,
            tags=frozenset(tags.split()),
            flags=flags_of(item.letters),
        )
