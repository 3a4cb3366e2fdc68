"""Text and JSON views of decisions for status, explain and once --dry-run."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

from daemon.decide.status_row import StatusRow

# The rest is imported where it is used: a `status` with nothing to show loads
# neither SQLAlchemy nor the tracker (issue 11).
if TYPE_CHECKING:
    from daemon.db.tables import Draft
    from daemon.decide.replay import Decision
    from daemon.decide.views import MsgView
    from daemon.tracker.policy import Playbook

_COLOURS = {"green": "\033[32m", "yellow": "\033[33m", "red": "\033[31m"}


def iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


@dataclass(frozen=True, slots=True)
class AccountHealth:
    """How an account's mail sync is doing, as `status` shows it."""

    health: str  # ok | degraded
    rescans: int  # times its mail cursor expired and was rebuilt by a rescan
    last_error: str | None

    def note(self) -> str | None:
        """One line when there is something to say, None for a quiet healthy account."""
        parts = []
        if self.health != "ok":
            parts.append(f"degraded: {self.last_error or 'unknown reason'}")
        elif self.last_error:
            parts.append(f"ok, but {self.last_error}")
        if self.rescans:
            parts.append(f"mail cursor rebuilt by a rescan {self.rescans} time(s)")
        return "; ".join(parts) or None


def status_json(
    decisions: Sequence[StatusRow | Decision],
    tz: ZoneInfo,
    accounts: Mapping[str, AccountHealth] | None = None,
) -> list[dict[str, Any]]:
    """SPEC §6 fields; times in the account's timezone, ISO-8601 with offset.

    Each row also carries its account's `account_health` and `account_rescans`
    (the array stays what SPEC §6 promises; these are extra fields)."""
    accounts = accounts or {}

    def iso(t: datetime | None) -> str | None:
        return t.astimezone(tz).isoformat() if t else None

    out = []
    for d in status_rows(decisions):
        out.append(
            {
                "id": d.sequence_id,
                "account": d.account,
                "contact": d.contact,
                "contact_name": d.contact_name,
                "subject": d.subject,
                "state": d.state,
                "steps_done": d.steps_done,
                "silent_since": iso(d.started_at),
                "next_step": d.next_step if d.next_action == "draft" else None,
                "next_action": d.next_action,
                "next_due": iso(d.next_due),
                "risk": d.risk,
                "ended_at": iso(d.ended_at),
                "outcome": d.outcome or None,
                "red_flags": list(d.red_flags),
                "draft_waiting_since": iso(d.draft_waiting_since),
                "snoozed_until": iso(d.snoozed_until),
                "call_instead": d.call_instead or None,  # why mail is refused (issue 8)
                "returned_from": d.returned_from,
                "returned_after_days": d.returned_after_days,
                "tags": dict(d.tags),
                "thread": d.thread_id,
            }
        )
        known = accounts.get(d.account)
        if known is not None:
            out[-1]["account_health"] = known.health
            out[-1]["account_rescans"] = known.rescans
    return out


def status_rows(decisions: Sequence[StatusRow | Decision]) -> list[StatusRow]:
    """Replayed decisions and rows read back from the store, rendered the same way."""
    return [d if isinstance(d, StatusRow) else StatusRow.of(d) for d in decisions]


def print_accounts(accounts: Mapping[str, AccountHealth], out: TextIO | None = None) -> None:
    """A line for each account with something to say (degraded, rescanned)."""
    out = out or sys.stdout
    for name, known in accounts.items():
        note = known.note()
        if note:
            print(f"account {name}: {note}", file=out)


def _local(t: datetime | None, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%m-%d %H:%M") if t else "-"


def _next(d: StatusRow, tz: ZoneInfo) -> str:
    if d.next_action == "draft" and d.snoozed_until is not None:
        return f"snoozed: step {d.next_step} at {_local(d.next_due, tz)}"
    if d.next_action == "draft":
        return f"step {d.next_step} at {_local(d.next_due, tz)}"
    if d.next_action == "close":
        return f"close at {_local(d.next_due, tz)}"
    if d.next_action == "wait_for_draft" and d.draft_waiting_since is not None:
        return f"draft {d.next_step} waiting since {_local(d.draft_waiting_since, tz)}"
    if d.next_action == "wait_for_draft":
        return f"draft {d.next_step} waits for you"
    if d.next_action == "call":
        return f"call or message ({d.call_instead})"
    return shorten(d.outcome, 60)


def shorten(text: str, width: int) -> str:
    """At most `width` columns, cut between words: an address is shown whole or not at all."""
    if _width(text) <= width:
        return text
    kept = ""
    for word in text.split():
        longer = f"{kept} {word}" if kept else word
        if _width(longer) > width - 2:
            break
        kept = longer
    return f"{kept or text.split()[0]} …"


def print_status(
    decisions: Sequence[StatusRow | Decision], tz: ZoneInfo, out: TextIO | None = None
) -> None:
    out = out or sys.stdout
    if not decisions:
        print("No sequences. Nothing is waiting for an answer.", file=out)
        return
    colour = out.isatty()
    rows = [("RISK", "STATE", "CONTACT", "SUBJECT", "STEP", "SILENT SINCE", "NEXT")]
    for d in status_rows(decisions):
        name = d.contact_name or d.contact
        rows.append(
            (
                d.risk,
                d.state,
                f"{name} <{d.contact}>" if d.contact_name else name,
                d.subject[:40],
                f"{d.steps_done}/{d.steps_total}",
                _local(d.started_at, tz),
                _next(d, tz),
            )
        )
    # Each cell measured once: thousands of rows are common on a big mailbox.
    measured = [[_width(cell) for cell in row] for row in rows]
    widths = [max(m[i] for m in measured) for i in range(len(rows[0]))]
    for i, (row, sizes) in enumerate(zip(rows, measured, strict=True)):
        cells = [cell + " " * (w - n) for cell, n, w in zip(row, sizes, widths, strict=True)]
        if colour and i:
            cells[0] = f"{_COLOURS[row[0]]}{cells[0]}\033[0m"
        print("  ".join(cells).rstrip(), file=out)


def _width(text: str) -> int:
    # East Asian wide characters take two terminal cells.
    import unicodedata

    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def print_json(data: object, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    json.dump(data, out, ensure_ascii=False, indent=2)
    out.write("\n")


def print_explain(
    decisions: Sequence[Decision],
    messages: Sequence[MsgView],
    tz: ZoneInfo,
    out: TextIO | None = None,
    drafts: Sequence[Draft] = (),
) -> None:
    out = out or sys.stdout
    _explain_thread(decisions[0], out)
    _explain_playbook(decisions[0].playbook, out)
    print("\nMessages:", file=out)
    for m in messages:
        _explain_message(m, tz, out)
    for d in decisions:
        _explain_sequence(d, drafts, tz, out)


def _explain_thread(first: Decision, out: TextIO) -> None:
    f = first.facts
    print(f"Thread {first.thread_id}: {f.subject}", file=out)
    print(f"  contact: {f.contact_name} <{f.contact}>", file=out)
    others = [f"{n} <{a}>" if n else a for a, n, _ in f.recipients if a != f.contact]
    if others:
        print(f"  also to (an answer from any counts): {', '.join(others)}", file=out)
    if f.separate:
        print("  in Bcc of the outreach: a conversation of its own", file=out)
    if f.bounced:
        print(f"  left out of the follow-ups (hard bounce): {', '.join(f.bounced)}", file=out)
    if first.language is not None:
        print(f"  draft language: {first.language.describe()}", file=out)
        for note in first.language.notes:
            print(f"        {note}", file=out)
    if f.aliases:
        print(f"  aliases seen in the thread: {', '.join(sorted(f.aliases))}", file=out)


def _explain_playbook(playbook: Playbook, out: TextIO) -> None:
    tags = ", ".join(f"{k}={v}" for k, v in playbook.tags) or "none"
    print(f"  tags: {tags}", file=out)
    steps = ", ".join(str(s) for s in playbook.steps)
    # Rules are numbered from 1 in config order, as in the trace lines below.
    rules = ", ".join(f"rule {i + 1}" for i in playbook.matched_rules) or "none"
    print(
        f"  playbook: steps {steps}; close_after {playbook.close_after}; "
        f"min_gap {playbook.min_gap}; rules matched: {rules}",
        file=out,
    )
    job = [f"{k} {v!r}" for k, v in (("title", playbook.title), ("company", playbook.company)) if v]
    print(f"  job: {', '.join(job) or 'unknown'}", file=out)
    for line in playbook.trace:
        print(f"        {line}", file=out)


def _explain_message(m: MsgView, tz: ZoneInfo, out: TextIO) -> None:
    from connectors.headers import UNTRACKABLE
    from daemon.decide.views import RECEIPT_USED
    from daemon.ingest.reused_ids import REUSED_ID

    who = m.sender or "?"
    arrow = "->" if m.direction == "out" else "<-"
    gone = " (gone)" if m.gone else ""
    print(f"  {_local(m.at, tz)} {arrow} [{m.folder_role}] {who}: {m.subject[:60]}{gone}", file=out)
    print(f"        {m.kind}: {m.reason}", file=out)
    for note in m.problems:
        if RECEIPT_USED in note or note.startswith((UNTRACKABLE, REUSED_ID)):
            print(f"        {note}", file=out)
    if m.return_date:
        print(f"        return date: {m.return_date.isoformat()}", file=out)
    if m.bounce_status or m.bounce_reason:
        hard = "hard" if m.bounce_hard else "soft"
        why = f"{m.bounce_reason} " if m.bounce_reason else ""
        print(
            f"        bounce {why}{m.bounce_status or ''} ({hard}) "
            f"for {', '.join(m.bounce_recipients)}",
            file=out,
        )


def _explain_sequence(d: Decision, drafts: Sequence[Draft], tz: ZoneInfo, out: TextIO) -> None:
    from daemon.tracker.machine import returned_days

    rec = d.run.record
    head = f"Sequence {d.sequence_id}: {rec.state.value}, {rec.steps_done} step(s) done"
    if rec.returned_from is not None:
        was = f"{rec.returned_from.value} {_local(rec.returned_from_at, tz)}"
        head += f" (returned after {returned_days(rec)} days; was {was})"
    print(f"\n{head}, risk {d.risk.value}", file=out)
    for line in d.run.trail:
        print(f"  {_local(line.at, tz)}  {line.text}", file=out)
    if d.next.due is not None or d.next.action != "none":
        print(f"  next: {_next(StatusRow.of(d), tz)}", file=out)
        for t in d.next.trace:
            print(f"        {t}", file=out)
    if rec.red_flags:
        print(f"  red flags: {', '.join(rec.red_flags)}", file=out)
    mine = sorted((x for x in drafts if x.sequence_id == d.sequence_id), key=lambda x: x.step)
    for dr in mine:
        print(f"  draft {dr.key}: {_draft_fate(dr, tz)}", file=out)


def describe_intents(d: Decision, tz: ZoneInfo) -> list[str]:
    from daemon.tracker.states import Withdraw, WriteDraft, WriteReminder

    lines = []
    for intent in d.run.due:
        if isinstance(intent, WriteDraft):
            who = f"{d.facts.contact_name or d.facts.contact} <{d.facts.contact}>"
            when = _local(intent.due, tz)
            lines.append(f"draft step {intent.step} to {who} re {d.facts.subject!r}, due {when}")
        elif isinstance(intent, WriteReminder):
            lines.append(
                f"reminder ({intent.kind}) at {_local(intent.at, tz)} for {d.facts.contact}"
            )
        elif isinstance(intent, Withdraw):
            lines.append(f"withdraw: {intent.reason}")
    return lines


def print_draft(
    d: Decision,
    step: int,
    body: str,
    tz: ZoneInfo,
    out: TextIO | None = None,
    prefix: str = "",
    slot: Callable[[datetime], datetime] | None = None,
) -> None:
    """One draft as it would be written. With `slot` (the reminders' own timing), the
    calendar reminders that go with it too, at the time the event will really have."""
    from connectors.compose import reply_subject
    from daemon.tracker.states import WriteDraft, WriteReminder

    out = out or sys.stdout
    due = next((i.due for i in d.run.due if isinstance(i, WriteDraft)), None)
    name = d.facts.contact_name
    to = f"{name} <{d.facts.contact}>" if name else d.facts.contact
    print(f"{prefix}draft step {step} (due {_local(due, tz)}), sequence {d.sequence_id}", file=out)
    print(f"    To: {to}", file=out)
    print(f"    Subject: {reply_subject(d.facts.subject)}", file=out)
    for line in body.rstrip().splitlines():
        print(f"    | {line}", file=out)
    for intent in d.run.due if slot is not None else ():
        if isinstance(intent, WriteReminder):
            when = _local(slot(intent.at), tz)
            print(f"    + calendar reminder ({intent.kind}) at {when}", file=out)


_FATE = {
    "intent": "about to be written",
    "written": "waiting in Drafts",
    "sent": "sent by you",
    "deleted": "deleted unsent",
    "withdrawn": "withdrawn by ghostwatch (untouched when the sequence ended)",
    "kept_edited": "left in Drafts: you edited it after the sequence ended",
    "cancelled": "not written: the thread changed first",
    "failed": "not written yet",
}


def _draft_fate(dr: Draft, tz: ZoneInfo) -> str:
    fate = _FATE.get(dr.state, dr.state)
    where = f" (ref {dr.ref})" if dr.ref and dr.state == "written" else ""
    edited = " - edited by you" if dr.edited and dr.state == "written" else ""
    when = f", written {_local(dr.written_at, tz)}" if dr.written_at else ""
    error = ""
    if dr.last_error:
        error = f"; last error: {dr.last_error}, next try {_local(dr.next_attempt_at, tz)}"
    return f"{fate}{where}{edited}{when}{error}"
