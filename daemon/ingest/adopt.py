"""A database that lost its memory learns ghostwatch's own work back from the mailbox.

Every draft ghostwatch writes carries `X-Ghostwatch-Key: <sequence>.<step>`,
and a client that sends it usually keeps the header in the Sent copy. After a
sync, before anything is decided, each keyed message the `drafts` table does
not know becomes a row again:

- in Drafts: `written` (a step is pending). Its content hash is left unknown, so
  ghostwatch never withdraws a draft it cannot prove untouched (it counts as edited);
- anywhere else (Sent): `sent` (a step done);
- steps below the highest one found that left no trace and are not covered by
  the consultant's own follow-ups were drafts deleted unsent: `deleted` (skipped).

So a rebuilt or restored-from-an-old-backup database never writes a second
draft for a step that exists or was sent. A key whose sequence does not start
in the message's thread (a colleague's draft written here while they were
away) is left alone.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, cast, select, update

from daemon.act.drafts import draft_key, draft_message_id
from daemon.act.marks import SKIP_TAG
from daemon.db.engine import Store
from daemon.db.tables import Draft, Message, Thread
from daemon.decide.stored import to_view
from daemon.decide.views import MsgView, sequence_id

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Found:
    """One step of a sequence as the mailbox shows it."""

    step: int
    state: str  # written | sent | deleted
    at: datetime
    ref: str | None = None
    message_id: str | None = None


def adopt_own_drafts(store: Store, account: str, acct: int, address: str, now: datetime) -> int:
    """Recreate the draft rows the mailbox proves; the number of rows added."""
    with store.reader() as s:
        known = select(Draft.key)
        query = select(Message).where(
            Message.account_id == acct,
            Message.gw_key.is_not(None),
            Message.gw_key.not_in(known),
            Message.thread_id.is_not(None),
            Message.gone.is_(False),
        )
        tids = sorted({m.thread_id for m in s.scalars(query) if m.thread_id is not None})
        # Skip tags are read only where something changed (a rebuilt database: every
        # thread), so a quiet cycle does not scan every message's tags.
        changed = select(Thread.id).where(Thread.account_id == acct, Thread.dirty.is_(True))
        tagged = select(Message.thread_id).where(
            Message.thread_id.in_(changed), cast(Message.tags, String).like(f"%{SKIP_TAG}%")
        )
        tids = sorted({*tids, *(t for t in s.scalars(tagged) if t is not None)})
        if not tids:
            return 0
        threads: dict[int, list[MsgView]] = defaultdict(list)
        for row in s.scalars(select(Message).where(Message.thread_id.in_(tids))):
            threads[row.thread_id].append(to_view(row))  # type: ignore[index]
    rows: list[Draft] = []
    for tid in tids:
        rows += _thread_rows(account, acct, address, tid, threads[tid], now)
    with store.reader() as s:
        known_keys = set(s.scalars(select(Draft.key).where(Draft.key.in_([r.key for r in rows]))))
    rows = [r for r in rows if r.key not in known_keys]
    if not rows:
        return 0
    with store.transaction() as s:
        fresh = [r for r in rows if s.get(Draft, r.key) is None]
        s.add_all(fresh)
        s.execute(update(Thread).where(Thread.id.in_(tids)).values(dirty=True))
    for r in fresh:
        log.info("found ghostwatch's draft %s in the mailbox: %s", r.key, r.state)
    return len(fresh)


def _thread_rows(
    account: str, acct: int, address: str, tid: int, thread: list[MsgView], now: datetime
) -> list[Draft]:
    starts = {
        sequence_id(account, m): m
        for m in thread
        if m.direction == "out" and m.folder_role != "drafts" and not m.gw_key
    }
    by_seq: dict[str, dict[int, Found]] = defaultdict(dict)
    for m in thread:
        seq, step = _split_key(m.gw_key)
        if seq not in starts or step is None or m.gone:
            continue
        found = Found(step, "written" if m.folder_role == "drafts" else "sent", m.at, m.ref,
                      m.message_id)  # fmt: skip
        kept = by_seq[seq].get(step)
        if kept is None or (kept.state == "written" and found.state == "sent"):
            by_seq[seq][step] = found  # a sent copy outranks a draft left behind
    own = {seq: _own_follow_ups(thread, start) for seq, start in starts.items()}
    for seq, start in starts.items():
        _tagged_skips(by_seq, seq, start, own[seq])
    rows: list[Draft] = []
    for seq, steps in by_seq.items():
        for found in [*steps.values(), *_skipped(steps, own[seq])]:
            rows.append(_row(seq, found, acct, address, tid, now))
    return rows


def _tagged_skips(
    by_seq: dict[str, dict[int, Found]], seq: str, start: MsgView, own: list[datetime]
) -> None:
    """Steps ghostwatch tagged `gw:skip:<step>` on the sequence's first message.

    Placed after the steps below them and the consultant's own follow-ups (which
    step a follow-up by hand stood for is unknown; only the count matters), and
    before any later step found, so the replay sees each written, then deleted."""
    numbers = sorted(
        int(tag[len(SKIP_TAG) :])
        for tag in start.tags
        if tag.startswith(SKIP_TAG) and tag[len(SKIP_TAG) :].isdigit()
    )
    steps = by_seq.get(seq, {})
    for n in numbers:
        if n < 1 or n in steps:
            continue
        before = [start.at, *own, *(f.at for f in steps.values() if f.step < n)]
        after = [f.at for f in steps.values() if f.step > n]
        at = max(before) + timedelta(seconds=2)
        if after and at >= min(after):
            at = min(after) - timedelta(seconds=2 * (max(steps) - n + 1))
        steps[n] = Found(n, "deleted", at)
    if steps:
        by_seq[seq] = steps


def _split_key(key: str | None) -> tuple[str, int | None]:
    seq, _, step = (key or "").strip().rpartition(".")
    return seq, int(step) if step.isdigit() and int(step) > 0 else None


def _own_follow_ups(thread: list[MsgView], start: MsgView) -> list[datetime]:
    """When the consultant followed up by hand (no key): those are steps done too."""
    seen = {start.message_id or start.ref}
    times: list[datetime] = []
    for m in sorted(thread, key=lambda v: v.at):
        ident = m.message_id or m.ref
        if m.direction != "out" or m.folder_role == "drafts" or m.gw_key or ident in seen:
            continue
        seen.add(ident)
        if m.at > start.at:
            times.append(m.at)
    return times


def _skipped(steps: dict[int, Found], own: list[datetime]) -> list[Found]:
    """The steps below a found one that left no trace: deleted unsent, unless a
    follow-up of the consultant's own (sent before that step) stands for them."""
    out: list[Found] = []
    by_hand: set[int] = set()
    for step, found in sorted(steps.items()):
        done = {n for n in steps if n < step} | {f.step for f in out} | by_hand
        gaps = [n for n in range(1, step) if n not in done]
        take = min(len(gaps), max(0, sum(1 for t in own if t < found.at) - len(by_hand)))
        by_hand |= set(gaps[:take])
        for n in gaps[take:]:
            # Written and deleted right before the step found, in order: the replay
            # needs the draft pending when it leaves Drafts.
            out.append(Found(n, "deleted", found.at - timedelta(seconds=2 * (step - n))))
    return out


def _row(seq: str, found: Found, acct: int, address: str, tid: int, now: datetime) -> Draft:
    key = draft_key(seq, found.step)
    written = found.at if found.state != "sent" else None
    resolved = None
    if found.state == "sent":
        resolved = found.at
    elif found.state == "deleted":
        resolved = found.at + timedelta(seconds=1)
    return Draft(
        key=key,
        account_id=acct,
        sequence_id=seq,
        thread_id=tid,
        step=found.step,
        state=found.state,
        message_id=found.message_id or draft_message_id(key, address),
        ref=found.ref if found.state == "written" else None,
        content_hash=None,
        created_at=now,
        written_at=written,
        resolved_at=resolved,
        attempts=0,
        edited=False,
        sink_account=None,
    )
