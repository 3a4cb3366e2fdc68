"""What a follow-up draft says and whom it is from: the provider-neutral DraftSpec.

The key and Message-ID are deterministic (sequence and step), which is what makes
a draft findable again after a crash: see intents.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from connectors.compose import reply_subject
from connectors.model import Address, DraftSpec
from daemon.act.render import KINDS, DraftVars, render_step
from daemon.db.engine import Store
from daemon.db.tables import Message
from daemon.decide.replay import Decision


@dataclass(frozen=True, slots=True)
class Author:
    """Who the drafts are from, and how they are written."""

    address: str
    display_name: str
    locale: str
    templates_dir: str | None = None
    # Set when a backup writes while the owner is away: (owner's name, owner's address).
    on_behalf_of: tuple[str, str] | None = None
    sink_account: str | None = None  # whose Drafts folder holds the draft (None: the owner's)


def draft_key(sequence_id: str, step: int) -> str:
    return f"{sequence_id}.{step}"


def draft_message_id(key: str, address: str) -> str:
    domain = address.rpartition("@")[2] or "ghostwatch.invalid"
    return f"ghostwatch.{key}@{domain}"


def build_spec(
    store: Store, d: Decision, step: int, key: str, author: Author, now: datetime
) -> tuple[DraftSpec, str]:
    """The draft as a provider-neutral spec, threaded as a reply to the latest message."""
    last = _last_message(store, d)
    references: list[str] = []
    if last is not None:
        references = [*(last.references or []), *([last.message_id] if last.message_id else [])]
    to, cc = _addressees(d)
    variables = _variables(d, step, (*to, *cc), author, now)
    # The thread's language (tag, rule, the outreach's own language), else the account's.
    locale = d.locale or author.locale
    body = render_step(locale, variables.kind, step, variables, author.templates_dir)
    spec = DraftSpec(
        key=key,
        message_id=draft_message_id(key, author.address),
        sender=Address(author.address, author.display_name),
        to=to,
        cc=cc,
        subject=reply_subject(d.facts.subject),
        body=body,
        in_reply_to=last.message_id if last is not None else None,
        references=tuple(references[-20:]),
        reply_to_ref=last.ref if last is not None else None,
        provider_thread_id=last.provider_thread_id if last is not None else None,
        date=now,
        reply_to=Address(owner[1], owner[0]) if (owner := author.on_behalf_of) else None,
    )
    return spec, body


def _last_message(store: Store, d: Decision) -> Message | None:
    """The message the draft replies to: the thread's latest outside Drafts."""
    with store.reader() as s:
        rows = list(
            s.scalars(
                select(Message)
                .where(Message.thread_id == d.thread_id, Message.folder_role != "drafts")
                .order_by(Message.sent_at)
            )
        )
    if d.facts.separate:
        # A Bcc recipient's own conversation: never thread onto another recipient's mail.
        rows = [r for r in rows if _involves(r, d.facts.contact)]
    return rows[-1] if rows else None


def _addressees(d: Decision) -> tuple[tuple[Address, ...], tuple[Address, ...]]:
    to, cc = _recipients(d, "to"), _recipients(d, "cc")
    if not to:  # the To recipients' addresses bounced: the Cc'd ones are addressed
        to, cc = cc or (Address(d.facts.contact, d.facts.contact_name),), ()
    return to, cc


def _variables(
    d: Decision, step: int, greeted: tuple[Address, ...], author: Author, now: datetime
) -> DraftVars:
    tags = dict(d.playbook.tags)
    return DraftVars(
        contact_name=greeted[0].name,
        consultant_name=author.display_name,
        consultant_signature=_signature(author, d.locale or author.locale),
        # The template's role is the job title; the role tag (tech, exec) is a cadence.
        role=d.playbook.title,
        company=d.playbook.company,
        original_subject=d.facts.subject,
        stage=tags.get("stage") or "",
        days_silent=max(0, (now - d.run.record.started_at).days),
        step=step,
        salary_report=d.playbook.salary_report,
        kind=tags.get("kind") if tags.get("kind") in KINDS else "candidate",
        contact_address=greeted[0].addr,
        other_names=tuple(a.name for a in greeted[1:]),
    )


def _involves(row: Message, addr: str) -> bool:
    if row.direction == "out":
        return any(r[0] == addr for r in row.recipients or ())
    return row.sender_addr == addr


def _recipients(d: Decision, field_name: str) -> tuple[Address, ...]:
    """The outreach's external recipients in To or Cc: the follow-up goes to all of them."""
    return tuple(Address(a, n) for a, n, f in d.facts.recipients if f == field_name)


def _signature(author: Author, locale: str) -> str:
    if author.on_behalf_of is None:
        return author.display_name
    owner = author.on_behalf_of[0]
    if locale.lower().startswith("zh"):
        return f"{author.display_name}（代{owner}跟进）"
    return f"{author.display_name} (for {owner}, who is away)"
