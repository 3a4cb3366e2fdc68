"""Body refinement: a suspected bounce, auto-reply or invitation answer is classified
again from its body, and only the verdict is kept; the body itself is never stored.

Runs at the end of every sync, REFINE_COMMIT bodies per fetch and per transaction,
so a crash repeats one group at most.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from connectors.base import MailSource
from daemon import classify
from daemon.db.engine import Store
from daemon.db.tables import Message
from daemon.ingest.calendar import record_answers
from daemon.ingest.store_batch import MESSAGES, SyncReport, mark_dirty
from daemon.ingest.verdicts import VERDICT_COLUMNS, invite_answers, verdict_fields

if TYPE_CHECKING:
    from connectors.ical import ImipReply

BODY_LIMIT = 256 * 1024
REFINE_COMMIT = 50  # bodies per FETCH and per transaction; a crash repeats one group


def refine_bodies(store: Store, account_id: int, source: MailSource, report: SyncReport) -> None:
    """Classify suspected bounces and auto-replies from their body, then forget the body.

    Every waiting message, in this sync: a verdict left for a later cycle would
    let `status` and `once` decide on a header guess meanwhile (issue 11).
    Bodies are fetched REFINE_COMMIT at a time, with one command where the
    connector can (fetch_raw_many), and each group is committed on its own.
    """
    with store.reader() as s:
        pending = list(
            s.execute(
                select(Message.id, Message.ref, Message.received_at, Message.sent_at)
                .where(
                    Message.account_id == account_id,
                    Message.needs_body.is_(True),
                    Message.gone.is_(False),
                )
                .order_by(Message.folder, Message.id)  # one EXAMINE per folder run
            )
        )
    for start in range(0, len(pending), REFINE_COMMIT):
        group = pending[start : start + REFINE_COMMIT]
        raws = _fetch_bodies(source, [ref for _, ref, _, _ in group])
        done = [_refine(pk, ref, raws.get(ref), rcvd, sent) for pk, ref, rcvd, sent in group]
        report.bodies += _store_refined(store, account_id, done)


def _fetch_bodies(source: MailSource, refs: list[str]) -> Mapping[str, bytes | None]:
    many = getattr(source, "fetch_raw_many", None)  # IMAP: one round trip for the group
    if many is not None:
        return cast(Mapping[str, bytes | None], many(refs, max_bytes=BODY_LIMIT))
    return {ref: source.fetch_raw(ref, max_bytes=BODY_LIMIT) for ref in refs}


@dataclass(slots=True)
class _Refined:
    pk: int
    ref: str
    verdict: classify.Classification | None  # None: the message was gone
    answers: list[ImipReply]
    when: datetime | None


def _refine(
    pk: int, ref: str, raw: bytes | None, received: datetime | None, sent: datetime | None
) -> _Refined:
    if raw is None:
        return _Refined(pk, ref, None, [], sent or received)
    verdict = classify.classify(raw, has_body=True, received=received or sent)
    answers = invite_answers(raw) if verdict.kind == "human" else []
    return _Refined(pk, ref, verdict, answers, sent or received)


def _store_refined(store: Store, account_id: int, results: Sequence[_Refined]) -> int:
    """Write a group of body verdicts in one transaction; returns how many were classified."""
    with store.transaction() as s:
        found = _stored(s, [r.pk for r in results])
        threads: list[int | None] = []
        verdicts: list[dict[str, object]] = []
        for item in results:
            if item.pk not in found:
                continue  # deleted meanwhile (account removed): nothing to refine
            thread_id, problems = found[item.pk]
            if item.verdict is None:
                _note_gone(s, item.pk, problems)
                continue
            values = _refined_values(s, account_id, item, item.verdict)
            verdicts.append({"pk": item.pk, **{f"v_{k}": v for k, v in values.items()}})
            threads.append(thread_id)
        if verdicts:
            # One Core executemany: no statement built, no identity-map sync per row.
            s.execute(_SET_VERDICT, verdicts)
        mark_dirty(s, threads)
    return len(verdicts)


def _stored(s: Session, pks: list[int]) -> dict[int, tuple[int | None, list[str]]]:
    """Thread and problems of the messages still stored, by id."""
    rows = s.execute(
        select(Message.id, Message.thread_id, Message.problems).where(Message.id.in_(pks))
    )
    return {pk: (thread_id, problems) for pk, thread_id, problems in rows}


def _note_gone(s: Session, pk: int, problems: list[str]) -> None:
    problems = [*problems, "gone before its body could be read"]
    s.execute(
        update(MESSAGES).where(MESSAGES.c.id == pk).values(needs_body=False, problems=problems)
    )


def _refined_values(
    s: Session, account_id: int, item: _Refined, verdict: classify.Classification
) -> dict[str, object]:
    """The body verdict's columns; the invitation answers it carries are recorded."""
    values = verdict_fields(verdict)
    if item.answers:
        record_answers(s, account_id, item.ref, item.answers, item.when)  # type: ignore[arg-type]
    if any(a.partstat.upper() == "ACCEPTED" for a in item.answers):
        # The calendar answer speaks for it: a Meeting event, not a plain reply.
        values["kind"] = "invite_answer"
        parts = ", ".join(a.partstat for a in item.answers)
        values["reason"] = f"invitation answer: {parts}"
    values["needs_body"] = False
    return values


_SET_VERDICT = (
    update(MESSAGES)
    .where(MESSAGES.c.id == bindparam("pk"))
    .values({name: bindparam(f"v_{name}") for name in VERDICT_COLUMNS})
)
