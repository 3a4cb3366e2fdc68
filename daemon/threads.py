"""Joining messages into threads: References / In-Reply-To, provider thread id, our key.

Works per batch with a handful of set queries and an in-memory union-find, so a
100k-message first scan does not run one query per message. A message that
links two known threads merges them (a reply can arrive before its parent).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from connectors.model import MailMessage
from daemon.db.tables import Control, Message, MessageRef, Thread
from daemon.db.tables import Sequence as SequenceRow


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _sequence_of_key(key: str | None) -> str | None:
    return key.rsplit(".", 1)[0] if key and "." in key else None


def link_threads(
    s: Session, account_id: int, batch: Sequence[MailMessage], now: datetime
) -> dict[str, int]:
    """Thread id for each message of the batch, creating and merging threads as needed."""
    uf = _UnionFind()
    own_ids = [m.message_id for m in batch if m.message_id]
    pointed = sorted(
        {r for m in batch for r in (*m.references, *([m.in_reply_to] if m.in_reply_to else []))}
    )
    for msg in batch:
        node = f"n:{msg.ref}"
        uf.find(node)
        if msg.message_id:
            uf.union(node, f"m:{msg.message_id}")
        for target in (*msg.references, *([msg.in_reply_to] if msg.in_reply_to else [])):
            uf.union(node, f"m:{target}")
        if msg.provider_thread_id:
            uf.union(node, f"p:{msg.provider_thread_id}")
        seq = _sequence_of_key(key_from_headers(msg.headers))
        if seq:
            uf.union(node, f"k:{seq}")

    known: list[tuple[str, int]] = []
    for chunk in _chunks(sorted({*own_ids, *pointed})):
        rows = s.execute(
            select(Message.message_id, Message.thread_id).where(
                Message.account_id == account_id,
                Message.message_id.in_(chunk),
                Message.thread_id.is_not(None),
            )
        )
        known.extend((f"m:{mid}", tid) for mid, tid in rows)
    for chunk in _chunks(own_ids):
        rows = s.execute(
            select(MessageRef.target, Message.thread_id)
            .join(Message, Message.id == MessageRef.message_pk)
            .where(MessageRef.account_id == account_id, MessageRef.target.in_(chunk))
        )
        known.extend((f"m:{target}", tid) for target, tid in rows if tid is not None)
    provider_ids = sorted({m.provider_thread_id for m in batch if m.provider_thread_id})
    for chunk in _chunks(provider_ids):
        rows = s.execute(
            select(Message.provider_thread_id, Message.thread_id).where(
                Message.account_id == account_id,
                Message.provider_thread_id.in_(chunk),
                Message.thread_id.is_not(None),
            )
        )
        known.extend((f"p:{pid}", tid) for pid, tid in rows)
    seq_ids = sorted({k for m in batch if (k := _sequence_of_key(key_from_headers(m.headers)))})
    for chunk in _chunks(seq_ids):
        rows = s.execute(
            select(SequenceRow.id, SequenceRow.thread_id).where(
                SequenceRow.account_id == account_id, SequenceRow.id.in_(chunk)
            )
        )
        known.extend((f"k:{sid}", tid) for sid, tid in rows if tid is not None)
    for key, tid in known:
        uf.union(f"t:{tid}", key)

    groups: dict[str, list[str]] = {}
    for msg in batch:
        groups.setdefault(uf.find(f"n:{msg.ref}"), []).append(msg.ref)
    threads_of_root: dict[str, set[int]] = {}
    for key, tid in known:
        threads_of_root.setdefault(uf.find(key), set()).add(tid)

    result: dict[str, int] = {}
    touched: set[int] = set()
    created: list[tuple[Thread, list[str]]] = []
    by_ref = {m.ref: m for m in batch}
    for root, refs in groups.items():
        existing = sorted(threads_of_root.get(root, set()))
        if not existing:
            first = by_ref[refs[0]]
            thread = Thread(
                account_id=account_id, subject=first.subject, created_at=now, dirty=True
            )
            created.append((thread, refs))
            continue
        keep = existing[0]
        if len(existing) > 1:
            merge_threads(s, keep, existing[1:])
        touched.add(keep)
        result.update(dict.fromkeys(refs, keep))
    if touched:
        s.execute(update(Thread).where(Thread.id.in_(sorted(touched))).values(dirty=True))
    if created:
        # One flush for the whole batch: SQLAlchemy inserts them together and fills the ids.
        s.add_all([thread for thread, _ in created])
        s.flush()
        for thread, refs in created:
            result.update(dict.fromkeys(refs, thread.id))
    return result


def merge_threads(s: Session, keep: int, others: Sequence[int]) -> None:
    s.execute(update(Message).where(Message.thread_id.in_(others)).values(thread_id=keep))
    s.execute(update(Control).where(Control.thread_id.in_(others)).values(thread_id=keep))
    # Sequences are a cache of the replay; the merged thread is replayed as a whole.
    s.execute(update(SequenceRow).where(SequenceRow.thread_id.in_(others)).values(thread_id=keep))
    s.execute(delete(Thread).where(Thread.id.in_(others)))


def key_from_headers(headers: bytes) -> str | None:
    low = headers.lower()
    at = low.find(b"x-ghostwatch-key:")
    if at < 0:
        return None
    end = low.find(b"\n", at)
    return headers[at + 17 : end if end >= 0 else None].decode("ascii", "replace").strip() or None
