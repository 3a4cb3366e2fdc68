"""Joining messages into threads: References / In-Reply-To, provider thread id, our key.

Works per batch with a handful of set queries and an in-memory union-find, so a
100k-message first scan does not run one query per message. A message that
links two known threads merges them (a reply can arrive before its parent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, update
from sqlalchemy.orm import Session

from connectors.model import MailMessage
from daemon.db.bulk import BulkInsert, execute_in, reserve_ids, select_in
from daemon.db.tables import Control, Message, Thread
from daemon.db.tables import Sequence as SequenceRow


class _UnionFind:
    """Union-find over small integers, each key named once per namespace.

    A batch links ~500 messages through ~1000 ids; integer nodes in a list spare
    building a prefixed string per key and hashing it on every find.
    """

    def __init__(self) -> None:
        self.parent: list[int] = []

    def node(self, table: dict[str, int], key: str) -> int:
        found = table.get(key)
        if found is None:
            found = table[key] = len(self.parent)
            self.parent.append(found)
        return found

    def find(self, node: int) -> int:
        parent = self.parent
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:
            parent[node], node = root, parent[node]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def _sequence_of_key(key: str | None) -> str | None:
    return key.rsplit(".", 1)[0] if key and "." in key else None


def link_threads(
    s: Session,
    account_id: int,
    batch: Sequence[MailMessage],
    now: datetime,
    keys: Mapping[str, str | None] | None = None,
) -> dict[str, int]:
    """Thread id for each message of the batch, creating and merging threads as needed.

    `keys` maps refs to their X-Ghostwatch-Key when the caller has read them already.
    """
    if keys is None:
        keys = {m.ref: key_from_headers(m.headers) for m in batch}
    uf = _UnionFind()
    # One namespace per kind of key: a Message-ID may equal a ref or a provider thread id.
    n_ref: dict[str, int] = {}
    n_mid: dict[str, int] = {}
    n_pid: dict[str, int] = {}
    n_seq: dict[str, int] = {}
    n_tid: dict[int, int] = {}
    node, union = uf.node, uf.union
    own_ids = [m.message_id for m in batch if m.message_id]
    pointed = sorted(
        {r for m in batch for r in (*m.references, *([m.in_reply_to] if m.in_reply_to else []))}
    )
    for msg in batch:
        me = node(n_ref, msg.ref)
        if msg.message_id:
            union(me, node(n_mid, msg.message_id))
        for target in msg.references:
            union(me, node(n_mid, target))
        if msg.in_reply_to:
            union(me, node(n_mid, msg.in_reply_to))
        if msg.provider_thread_id:
            union(me, node(n_pid, msg.provider_thread_id))
        seq = _sequence_of_key(keys[msg.ref])
        if seq:
            union(me, node(n_seq, seq))

    known: list[tuple[int, int]] = []  # (node of a key, thread id the database has for it)
    rows = select_in(
        s,
        "SELECT message_id, thread_id FROM messages"
        " WHERE account_id = ? AND thread_id IS NOT NULL AND message_id IN (*)",
        (account_id,),
        sorted({*own_ids, *pointed}),
    )
    known.extend((node(n_mid, mid), tid) for mid, tid in rows)
    rows = select_in(
        s,
        "SELECT message_refs.target, messages.thread_id FROM message_refs"
        " JOIN messages ON messages.id = message_refs.message_pk"
        " WHERE message_refs.account_id = ? AND message_refs.target IN (*)",
        (account_id,),
        own_ids,
    )
    known.extend((node(n_mid, target), tid) for target, tid in rows if tid is not None)
    provider_ids = sorted({m.provider_thread_id for m in batch if m.provider_thread_id})
    rows = select_in(
        s,
        "SELECT provider_thread_id, thread_id FROM messages"
        " WHERE account_id = ? AND thread_id IS NOT NULL AND provider_thread_id IN (*)",
        (account_id,),
        provider_ids,
    )
    known.extend((node(n_pid, pid), tid) for pid, tid in rows)
    seq_ids = sorted({k for m in batch if (k := _sequence_of_key(keys[m.ref]))})
    rows = select_in(
        s,
        "SELECT id, thread_id FROM sequences WHERE account_id = ? AND id IN (*)",
        (account_id,),
        seq_ids,
    )
    known.extend((node(n_seq, sid), tid) for sid, tid in rows if tid is not None)
    for key, tid in known:
        found = n_tid.get(tid)
        if found is None:
            found = n_tid[tid] = len(uf.parent)
            uf.parent.append(found)
        union(found, key)

    find = uf.find
    groups: dict[int, list[str]] = {}
    for msg in batch:
        groups.setdefault(find(n_ref[msg.ref]), []).append(msg.ref)
    threads_of_root: dict[int, set[int]] = {}
    for key, tid in known:
        threads_of_root.setdefault(find(key), set()).add(tid)

    result: dict[str, int] = {}
    touched: set[int] = set()
    created: list[tuple[str, list[str]]] = []
    by_ref = {m.ref: m for m in batch}
    for root, refs in groups.items():
        existing = sorted(threads_of_root.get(root, set()))
        if not existing:
            created.append((by_ref[refs[0]].subject, refs))
            continue
        keep = existing[0]
        if len(existing) > 1:
            merge_threads(s, keep, existing[1:])
        touched.add(keep)
        result.update(dict.fromkeys(refs, keep))
    if touched and len(s.identity_map):
        s.execute(update(Thread).where(Thread.id.in_(sorted(touched))).values(dirty=True))
    elif touched:  # nothing loaded to keep in step: plain SQL, as in merge_threads
        execute_in(s, "UPDATE threads SET dirty = ? WHERE id IN (*)", (True,), sorted(touched))
    if created:
        # Ids taken first, then one executemany: no ORM objects, no RETURNING.
        ids = reserve_ids(s, _THREADS, len(created))
        _THREAD_INSERT.execute(
            s,
            [(tid, subject) for tid, (subject, _) in zip(ids, created, strict=True)],
            (account_id, now, True),
        )
        for tid, (_, refs) in zip(ids, created, strict=True):
            result.update(dict.fromkeys(refs, tid))
    return result


_THREADS = cast(Table, Thread.__table__)
_THREAD_INSERT = BulkInsert(
    _THREADS,
    ("id", "subject"),
    constants=("account_id", "created_at", "dirty"),
)


def merge_threads(s: Session, keep: int, others: Sequence[int]) -> None:
    if len(s.identity_map):
        # Rows loaded in this session (a retried batch, a message gone): the ORM
        # statements keep their attributes in step with the database.
        s.execute(update(Message).where(Message.thread_id.in_(others)).values(thread_id=keep))
        s.execute(update(Control).where(Control.thread_id.in_(others)).values(thread_id=keep))
        # Sequences are a cache of the replay; the merged thread is replayed as a whole.
        s.execute(
            update(SequenceRow).where(SequenceRow.thread_id.in_(others)).values(thread_id=keep)
        )
        s.execute(delete(Thread).where(Thread.id.in_(others)))
        return
    # Nothing loaded (a first sync): the same statements as plain SQL, without building
    # and compiling four Core statements per merge.
    for table in ("messages", "controls", "sequences"):
        execute_in(s, f"UPDATE {table} SET thread_id = ? WHERE thread_id IN (*)", (keep,), others)
    execute_in(s, "DELETE FROM threads WHERE id IN (*)", (), others)


def key_from_headers(headers: bytes) -> str | None:
    low = headers.lower()
    at = low.find(b"x-ghostwatch-key:")
    if at < 0:
        return None
    end = low.find(b"\n", at)
    return headers[at + 17 : end if end >= 0 else None].decode("ascii", "replace").strip() or None
