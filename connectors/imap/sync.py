"""Sync one folder: from its cursor state to a series of (changes, new state) steps.

Each step's state covers exactly the changes of that step and all before it,
so the caller may persist any prefix of the steps. Observed server values
(UIDNEXT, HIGHESTMODSEQ) are taken *before* fetching, so anything that changes
while we fetch shows up again next cycle instead of being lost.

Cost of a quiet folder: one STATUS with CONDSTORE; EXAMINE + one flags-only
FETCH without (the only way to see keyword changes there). The Inbox, synced
last, stays selected between cycles so its check is a NOOP instead: a STATUS
of the Inbox makes Dovecot open it and read its whole index (33 ms at 27k
messages, against 0.2 ms for a NOOP), as other servers may too.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date

from connectors.imap.client import Wire
from connectors.imap.cursor import CompactUids, FolderState, compact, flag_groups
from connectors.imap.normalize import flag_key, make_ref, tags_changed, to_message
from connectors.model import Change, Folder, FolderRole, MessageGone

_FLAGS = ["UID", "FLAGS"]
# What a first look or a change pass hands on: the state, and the new UIDs when
# a command already listed them (saves a SEARCH).
Resumed = tuple[FolderState, list[int] | None]


@dataclass
class Step:
    changes: list[Change]
    state: FolderState | None  # None: forget the folder
    rescanned: bool = False
    planned: int = 0  # new messages this folder will fetch (for progress)
    fetched: int = 0


@dataclass(frozen=True)
class Plan:
    """What to fetch for new messages, fixed for one fetch_changes call."""

    items: Sequence[str]
    chunk: int
    since: date
    extra_items: Sequence[str] = field(default=())


def sync_folder(
    wire: Wire, folder: Folder, state: FolderState | None, plan: Plan
) -> Iterator[Step]:
    name = folder.name
    if state is not None and _quiet(wire, folder, state):
        return
    sel = wire.examine(name)
    uidvalidity = int(sel.get("UIDVALIDITY", 0))
    modseq = int(sel.get("HIGHESTMODSEQ", 0)) if wire.condstore else 0
    exists = int(sel.get("EXISTS", 0))
    uidnext = int(sel.get("UIDNEXT", 0))
    if state is not None and state.uidvalidity != uidvalidity:
        yield from _forget(folder, state, plan.chunk)
        state = None
    arrived: list[int] | None = None  # new UIDs, when a command above already listed them
    if state is None:
        state, arrived = yield from _start(
            wire, name, uidvalidity, modseq, exists, uidnext, plan.since
        )
    else:
        state, arrived = yield from _changes(wire, name, state, modseq, exists, plan.chunk)
    for step in _fetch_new(wire, folder, state, uidnext, plan, arrived):
        state = step.state or state
        yield step
    if wire.condstore:
        _leave(wire, folder, state)


def _quiet(wire: Wire, folder: Folder, state: FolderState) -> bool:
    """One command decides whether anything at all happened (CONDSTORE only)."""
    if not wire.condstore or state.since is not None or not state.modseq:
        return False
    if wire.watching == folder.name:
        return not wire.poll_watched()
    items = ["UIDNEXT", "UIDVALIDITY", "MESSAGES", "HIGHESTMODSEQ"]
    st = wire.status(folder.name, items)
    quiet = _matches(st, "MESSAGES", state)
    if quiet and folder.role is FolderRole.INBOX:
        _leave(wire, folder, state)  # one EXAMINE now, NOOPs from the next cycle on
    return quiet


def _leave(wire: Wire, folder: Folder, state: FolderState) -> None:
    """Unselect, so the next STATUS sees the folder as it is, not as we left it;
    or, for the Inbox, examine it afresh and keep it watched when the view
    matches the cursor (a change during this cycle shows up as a mismatch)."""
    if folder.role is FolderRole.INBOX and state.since is None:
        sel = wire.examine(folder.name)
        if _matches(sel, "EXISTS", state):
            wire.watch(folder.name)
            return
    wire.unselect()


def _matches(seen: dict[str, int], count_key: str, state: FolderState) -> bool:
    """STATUS (count in MESSAGES) or EXAMINE (count in EXISTS) values equal the cursor's."""
    return (
        seen.get("UIDVALIDITY") == state.uidvalidity
        and seen.get(count_key) == len(state.uids)
        and seen.get("UIDNEXT") == state.uidnext
        and seen.get("HIGHESTMODSEQ") == state.modseq
    )


def _forget(folder: Folder, old: FolderState, chunk: int) -> Iterator[Step]:
    """UIDVALIDITY changed: every old ref is dead. Say so, then rescan from scratch."""
    uids = sorted(old.uids)
    gone: list[Change] = [
        MessageGone(make_ref(old.uidvalidity, u, folder.name), folder.name) for u in uids
    ]
    for start in range(0, max(len(gone), 1), chunk):
        # The folder leaves the cursor with the first step: a crash mid-way rescans, and
        # MessageGone for an unknown ref is harmless.
        yield Step(gone[start : start + chunk], None, rescanned=start == 0)


def _start(
    wire: Wire, name: str, uidvalidity: int, modseq: int, exists: int, uidnext: int, since: date
) -> Generator[Step, None, Resumed]:
    """First look at a folder: remember every UID, plan only those SINCE the window."""
    all_uids = wire.search(name, ["ALL"]) if exists else []
    todo = wire.search(name, ["SINCE", since]) if exists else []
    flags = None
    if not modseq:
        rows, _ = wire.fetch(name, "1:*", _FLAGS) if exists else ({}, set())
        flags = flag_groups({uid: flag_key(row.get(b"FLAGS") or ()) for uid, row in rows.items()})
    uidnext = uidnext or (all_uids[-1] + 1 if all_uids else 1)
    state = FolderState(
        uidvalidity=uidvalidity,
        uidnext=todo[0] if todo else uidnext,
        modseq=modseq,
        uids=CompactUids(compact(all_uids)),
        flags=flags,
        since=since if todo else None,
    )
    yield Step([], state)
    return state, todo


def _changes(
    wire: Wire, name: str, state: FolderState, modseq: int, exists: int, chunk: int
) -> Generator[Step, None, Resumed]:
    """Flag changes and expunges among the messages the cursor already knows.

    Expunges go first, each batch shrinking the cursor's UID set; flag changes
    follow and only the last of their batches advances MODSEQ: a crash in
    between repeats some TagsChanged (harmless, they carry the full new value)
    and never skips one.
    """
    tags: list[Change] = []
    flags = state.flags
    if modseq and state.modseq:
        gone, arrived = _modseq_changes(wire, name, state, exists, tags)
    else:
        gone, flags, arrived = _flag_diff(wire, name, state, exists, tags)
        if modseq:
            flags = None  # the server has CONDSTORE now: modseq takes over
    gone_sorted = sorted(gone & state.uids)
    current = state
    for start in range(0, len(gone_sorted), chunk):
        part = gone_sorted[start : start + chunk]
        current = current.with_changes(
            uids=current.uids - frozenset(part), flags=_without(current.flags, part)
        )
        yield Step([MessageGone(make_ref(state.uidvalidity, u, name), name) for u in part], current)
    final = current.with_changes(modseq=modseq, flags=_without(flags, gone_sorted))
    for start in range(0, max(len(tags), 1), chunk):
        last = start + chunk >= len(tags)
        yield Step(tags[start : start + chunk], final if last else current)
    return final, (arrived if state.since is None else None)


def _without(
    flags: dict[str, frozenset[int]] | None, uids: list[int]
) -> dict[str, frozenset[int]] | None:
    if flags is None:
        return None
    drop = frozenset(uids)
    return {k: v - drop for k, v in flags.items()}


def _modseq_changes(
    wire: Wire, name: str, state: FolderState, exists: int, changes: list[Change]
) -> tuple[set[int], list[int] | None]:
    if not exists:
        return set(state.uids), []
    modifiers = [f"CHANGEDSINCE {state.modseq}"] + (["VANISHED"] if wire.qresync else [])
    rows, vanished = wire.fetch(name, "1:*", _FLAGS, modifiers)
    for uid in sorted(rows):
        if uid < state.uidnext and uid in state.uids:
            ref = make_ref(state.uidvalidity, uid, name)
            changes.append(tags_changed(ref, name, rows[uid].get(b"FLAGS") or ()))
    if wire.qresync:
        return vanished, None
    return _count_gone(wire, name, state, exists)


def _count_gone(
    wire: Wire, name: str, state: FolderState, exists: int
) -> tuple[set[int], list[int] | None]:
    """Without QRESYNC: only when the count says something vanished, diff the UID set.

    exists (at EXAMINE) = known - gone + arrived_then; the search below sees
    arrived_now >= arrived_then, so exists == known + arrived_now proves gone == 0.
    """
    arrived = None
    if state.since is None:
        arrived = [
            u for u in wire.search(name, ["UID", f"{state.uidnext}:*"]) if u >= state.uidnext
        ]
        if exists == len(state.uids) + len(set(arrived) - state.uids):
            return set(), arrived
    return set(state.uids - set(wire.search(name, ["ALL"]))), arrived


def _flag_diff(
    wire: Wire, name: str, state: FolderState, exists: int, changes: list[Change]
) -> tuple[set[int], dict[str, frozenset[int]], list[int]]:
    """No CONDSTORE: fetch every message's flags (no bytes) and diff with the cursor."""
    rows, _ = wire.fetch(name, "1:*", _FLAGS) if exists else ({}, set())
    before = state.flags_of()
    now: dict[int, str] = {}
    for uid in sorted(rows):
        if uid not in state.uids:
            continue  # new: fetched with its flags below
        now[uid] = flag_key(rows[uid].get(b"FLAGS") or ())
        if uid < state.uidnext and now[uid] != before.get(uid, ""):
            ref = make_ref(state.uidvalidity, uid, name)
            changes.append(tags_changed(ref, name, rows[uid].get(b"FLAGS") or ()))
    arrived = [u for u in sorted(rows) if u >= state.uidnext]
    return set(state.uids) - set(rows), flag_groups(now), arrived


def _fetch_new(
    wire: Wire,
    folder: Folder,
    state: FolderState,
    uidnext: int,
    plan: Plan,
    arrived: list[int] | None,
) -> Iterator[Step]:
    name = folder.name
    if arrived is None:
        criteria: list[str | date] = ["UID", f"{state.uidnext}:*"]
        if state.since is not None:
            criteria += ["SINCE", state.since]
        arrived = wire.search(name, criteria)
    new = [u for u in arrived if u >= state.uidnext]
    items = [*plan.items, *plan.extra_items]
    chunks = [new[start : start + plan.chunk] for start in range(0, len(new), plan.chunk)]
    # Pipelined: the next chunk's FETCH is on its way before this chunk is handed
    # on, so the server prepares it while the caller stores this one.
    pending = wire.fetch_send(name, compact(chunks[0]), items) if chunks else None
    try:
        for index, chunk in enumerate(chunks):
            assert pending is not None
            rows, _ = wire.fetch_answer(pending)
            pending = None
            if index + 1 < len(chunks):
                pending = wire.fetch_send(name, compact(chunks[index + 1]), items)
            messages: list[Change] = [
                to_message(
                    rows[u], uid=u, uidvalidity=state.uidvalidity, folder=name, role=folder.role
                )
                for u in chunk
                if u in rows  # missing: expunged between SEARCH and FETCH
            ]
            got = [u for u in chunk if u in rows]  # not an unsolicited FETCH of another UID
            flags = state.flags
            if flags is not None:
                flags = _add_flags(flags, {u: flag_key(rows[u].get(b"FLAGS") or ()) for u in got})
            state = state.with_changes(
                uidnext=chunk[-1] + 1, uids=_with_uids(state.uids, got), flags=flags
            )
            if index + 1 == len(chunks):
                state = _finished(state, uidnext)  # the last chunk completes the folder
            yield Step(messages, state, planned=len(new), fetched=len(messages))
    finally:
        if pending is not None:
            wire.fetch_discard(pending)  # the caller stopped early: keep the connection in step
    if not new:
        yield Step([], _finished(state, uidnext))


def _with_uids(known: AbstractSet[int], got: list[int]) -> AbstractSet[int]:
    missing = [u for u in got if u not in known]
    if not missing:
        return known  # a first scan listed them all already: the cursor text stays as it is
    if isinstance(known, CompactUids):
        return known.with_added(missing)
    return known | frozenset(missing)


def _finished(state: FolderState, uidnext: int) -> FolderState:
    """Everything below the UIDNEXT seen at EXAMINE is handled; the window no longer applies."""
    return state.with_changes(uidnext=max(state.uidnext, uidnext), since=None)


def _add_flags(groups: dict[str, frozenset[int]], new: dict[int, str]) -> dict[str, frozenset[int]]:
    merged = {k: set(v) for k, v in groups.items()}
    for uid, key in new.items():
        if key:
            merged.setdefault(key, set()).add(uid)
    return {k: frozenset(v) for k, v in merged.items()}
