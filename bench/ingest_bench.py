"""Ingest micro-benchmark: `apply_batch` on the benchmark mailbox, without IMAP.

Builds the generated mailbox (`bench.generate`), cuts each file's header block
down to the fields the IMAP connector FETCHes (`daemon.ingest.mail.header_fields()`),
normalises it with the IMAP connector's own `to_message`, and then times only
the daemon side: `apply_batch` + cursor update per 500-message batch, one
transaction each, into a fresh SQLite file, exactly as `sync_mail` does.

It prints figures, never asserts on time. `--dump FILE` writes every stored
message's verdict and a thread partition that does not depend on thread ids, so
two versions of the code can be compared with `cmp`/`diff`.

    PYTHONPATH=. .venv/bin/python -m bench.ingest_bench --messages 10000
    PYTHONPATH=. .venv/bin/python -m bench.ingest_bench --messages 10000 --profile
    PYTHONPATH=. .venv/bin/python -m bench.ingest_bench --maildir /tmp/Maildir --bodies

`--maildir` keeps the generated mailbox for the next run (generating and
normalising 100k messages takes ~45 s); `--bodies` also times `refine_bodies`
(up to 500 suspected bounces and auto-replies, their bodies read from the files)
in a second fresh database. Figures are CPU time of this process: compare runs
on a quiet machine, or repeat (`--repeat`) and take the lowest.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.generate import FOLDERS, INTERNAL_DOMAIN, NOW, OWN_ADDR, generate
from connectors.imap.normalize import to_message
from connectors.model import ChangeBatch, FolderRole, MailMessage
from daemon.config.identity import Identity

BATCH = 500
_ROLES = {"INBOX": FolderRole.INBOX, "Sent": FolderRole.SENT, "Archive": FolderRole.ARCHIVE}


def _header_fields_only(raw: bytes, wanted: frozenset[bytes]) -> bytes:
    """What BODY.PEEK[HEADER.FIELDS (...)] returns: the wanted fields, then a blank line."""
    end = raw.find(b"\n\n")
    crlf = raw.find(b"\r\n\r\n")
    if crlf >= 0 and (end < 0 or crlf < end):
        end = crlf
    block = raw[: end if end >= 0 else len(raw)]
    out: list[bytes] = []
    keep = False
    for line in block.split(b"\n"):
        line = line.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        keep = line.partition(b":")[0].strip().lower() in wanted
        if keep:
            out.append(line)
    return b"\r\n".join(out) + b"\r\n\r\n"


class FileBodies:
    """The body side of a MailSource: `fetch_raw` from the Maildir files."""

    def __init__(self) -> None:
        self.paths: dict[str, Path] = {}

    def fetch_raw(self, ref: str, *, max_bytes: int) -> bytes | None:
        path = self.paths.get(ref)
        return path.read_bytes()[:max_bytes] if path is not None else None


BODIES = FileBodies()


def load_messages(root: Path) -> list[MailMessage]:
    from daemon.ingest.mail import header_fields

    wanted = frozenset(f.encode() for f in header_fields())
    messages: list[MailMessage] = []
    for folder in FOLDERS:
        base = root if folder == "INBOX" else root / f".{folder}"
        names = sorted(os.listdir(base / "cur"))  # generator names sort in delivery order
        for uid, name in enumerate(names, 1):
            path = base / "cur" / name
            raw = path.read_bytes()
            flags = [b"\\Seen"] if name.endswith("S") else []
            row = {
                b"BODY[HEADER.FIELDS]": _header_fields_only(raw, wanted),
                b"FLAGS": flags,
                b"INTERNALDATE": datetime.fromtimestamp(path.stat().st_mtime, UTC),
                b"RFC822.SIZE": len(raw),
            }
            msg = to_message(
                row,
                uid=uid,
                uidvalidity=1,
                folder=folder,
                role=_ROLES.get(folder, FolderRole.OTHER),
            )
            if isinstance(msg, MailMessage):
                messages.append(msg)
                BODIES.paths[msg.ref] = path
    return messages


def _batches(messages: Sequence[MailMessage]) -> Iterator[ChangeBatch]:
    for i in range(0, len(messages), BATCH):
        yield ChangeBatch(changes=tuple(messages[i : i + BATCH]), cursor=f"c{i}")


def run_ingest(
    url: str, messages: Sequence[MailMessage], *, bodies: bool = False
) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of storing every batch the way sync_mail does.

    With `bodies`, then the body refinement (`refine_bodies`, up to 500 bodies
    read from the files) is timed instead.
    """
    from sqlalchemy import update

    from daemon.db.engine import Store
    from daemon.db.tables import Account
    from daemon.ingest.mail import SyncReport, apply_batch, ensure_account, refine_bodies

    store = Store(url)
    me = Identity(own=frozenset({OWN_ADDR}), internal_domains=(INTERNAL_DOMAIN,))
    account_id = ensure_account(store, "bench", OWN_ADDR)
    report = SyncReport(account="bench")
    t0, c0 = time.perf_counter(), time.process_time()
    for batch in _batches(messages):
        with store.transaction() as s:
            apply_batch(s, account_id, batch, me, NOW, report)
            s.execute(update(Account).where(Account.id == account_id).values(cursor=batch.cursor))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if bodies:
        t0, c0 = time.perf_counter(), time.process_time()
        refine_bodies(store, account_id, BODIES, report)  # type: ignore[arg-type]
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"refine_bodies: {report.bodies} bodies in {wall:.2f}s wall, {cpu:.2f}s CPU")
    store.close()
    return wall, cpu


def time_classify(messages: Sequence[MailMessage]) -> float:
    from daemon.ingest.verdicts import classify_fields

    me = Identity(own=frozenset({OWN_ADDR}), internal_domains=(INTERNAL_DOMAIN,))
    c0 = time.process_time()
    for msg in messages:
        classify_fields(msg, me)
    return time.process_time() - c0


def dump(url: str, out: Path) -> None:
    """Verdicts per ref plus threads as sorted ref lists: comparable across versions."""
    from sqlalchemy import select

    from daemon.db.engine import Store
    from daemon.db.tables import Message, MessageRef, Thread

    store = Store(url, upgrade=False)
    skip = {"id", "thread_id", "account_id"}
    cols = [c for c in Message.__table__.columns if c.name not in skip]
    members: dict[int | None, list[str]] = defaultdict(list)
    with store.reader() as s, out.open("w") as fh:
        subjects = dict(s.execute(select(Thread.id, Thread.subject)).all())
        dirty = dict(s.execute(select(Thread.id, Thread.dirty)).all())
        refs_of: dict[int, list[str]] = defaultdict(list)
        for pk, target in s.execute(select(MessageRef.message_pk, MessageRef.target)):
            refs_of[pk].append(target)
        for row in s.execute(select(Message.id, Message.thread_id, *cols).order_by(Message.ref)):
            data = row._asdict()
            members[data["thread_id"]].append(data["ref"])
            data["message_refs"] = sorted(refs_of[data.pop("id")])
            data.pop("thread_id")
            fh.write(json.dumps(data, default=str, ensure_ascii=False, sort_keys=True) + "\n")
        for tid, refs in sorted(members.items(), key=lambda kv: kv[1][0]):
            info = (subjects.get(tid), dirty.get(tid)) if tid is not None else None
            fh.write(json.dumps({"thread": sorted(refs), "info": info}, ensure_ascii=False) + "\n")
    store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--maildir", type=Path, help="reuse (or create) the mailbox here")
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--dump", type=Path, help="write verdicts and threads here")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile top 25")
    parser.add_argument("--repeat", type=int, default=1, help="ingest runs (fresh db each)")
    parser.add_argument("--bodies", action="store_true", help="also time refine_bodies")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="gw-ingest-") as tmp:
        root = args.maildir or Path(tmp) / "Maildir"
        if not (root / "cur").is_dir():
            generate(root, args.messages)
        t0 = time.perf_counter()
        messages = load_messages(root)
        took = time.perf_counter() - t0
        print(f"{len(messages):,} messages loaded and normalised in {took:.1f}s")
        n = len(messages)
        cls = time_classify(messages)
        print(f"header classification alone: {cls / n * 1e6:.0f} us/message (CPU)")
        url = args.db
        for i in range(args.repeat):
            url = args.db or f"sqlite:///{tmp}/ingest-{i}.db"
            wall, cpu = run_ingest(url, messages)
            if args.bodies:
                run_ingest(f"{url}-bodies", messages, bodies=True)
            print(
                f"ingest run {i + 1}: {n / wall:,.0f} msg/s, {wall:.2f}s wall, "
                f"{cpu / n * 1e6:.0f} us/message CPU"
            )
        if args.dump and url:
            dump(url, args.dump)
            print(f"dump written to {args.dump}")
        if args.profile:
            url = f"sqlite:///{tmp}/ingest-profile.db"
            prof = cProfile.Profile()
            prof.enable()
            run_ingest(url, messages, bodies=args.bodies)
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
