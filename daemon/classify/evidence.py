"""Header evidence, gathered once per message and shared by every rule."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from daemon.classify import autoreply, bounce, bulk
from daemon.classify.message import MEMO_SIZE, MailView, content_type_of, main_type


@dataclass(frozen=True)
class Evidence:
    sender_name: str
    sender: str  # lower-case From address, "" when missing
    mta_sender: bool  # MAILER-DAEMON, postmaster, "<>" or no From at all
    null_return_path: bool  # Return-Path: <> (RFC 5321 null sender: DSNs and responders)
    bounce_subject: str | None
    failed_recipients: tuple[str, ...]
    content_type: str
    report_type: str
    auto_header: str | None  # decisive auto-reply header
    auto_weak: str | None  # X-Auto-Response-Suppress and the like
    auto_generated: str | None
    auto_subject: str | None
    list_header: str | None
    precedence_bulk: str | None
    automated_sender: str | None
    verp: str | None

    @property
    def bounce_suspect(self) -> bool:
        return bool(
            self.mta_sender
            or self.bounce_subject
            or self.failed_recipients
            or self.report_type == "delivery-status"
        )


# Pure functions of one string that ~100k messages call with few distinct values
# (senders, subjects of a campaign): bounded caches, same results.
_subject_bounce = lru_cache(maxsize=MEMO_SIZE)(bounce.bounce_subject)
_subject_auto = lru_cache(maxsize=MEMO_SIZE)(autoreply.subject_marks)
_automated = lru_cache(maxsize=MEMO_SIZE)(bulk.automated_sender)
_mta_sender = lru_cache(maxsize=MEMO_SIZE)(bounce.is_mta_sender)


@lru_cache(maxsize=MEMO_SIZE)
def _content_type(value: str) -> tuple[str, str]:
    """(main type, report-type); the parameters are only read for multipart/report."""
    ctype = main_type(value)
    if ctype != "multipart/report":
        return ctype, ""
    return ctype, content_type_of(value)[1].get("report-type", "")


# Which rare headers each header rule reads: a rule none of whose headers is there
# finds nothing (each returns None for a view without them), so gather skips it.
_AUTO_HEADER_NAMES = frozenset(
    {
        "auto-submitted",
        "x-autoreply",
        "x-autorespond",
        "x-autoresponder",
        "precedence",
        "x-precedence",
        "x-qq-holidayreply",
        "x-apple-action",
        "x-ms-exchange-inbox-rules-loop",
    }
)
_WEAK_NAMES = frozenset({"x-auto-response-suppress", "x-ms-exchange-inbox-rules-loop"})
_LIST_NAMES = frozenset({"list-id", "list-unsubscribe"})
_PRECEDENCE_NAMES = frozenset({"precedence", "x-precedence"})

# Headers whose mere presence can make autoreply/bulk evidence non-empty; without
# any of them those checks are known to find nothing (see the functions they feed).
RARE_HEADERS = _AUTO_HEADER_NAMES | _WEAK_NAMES | _LIST_NAMES | {"x-failed-recipients"}


def gather(view: MailView) -> Evidence:
    name, addr = view.sender()
    ctype, report_type = _content_type(view.value("content-type"))
    return_path = view.value("return-path")
    subject = view.subject
    failed: tuple[str, ...] = ()
    auto_header = auto_weak = auto_generated = list_header = precedence_bulk = None
    # Ordinary mail (replies, colleagues) carries none of these headers, and
    # without them none of the header rules below can fire. Newsletters carry
    # only the list ones: each rule runs only when one of its own headers is there.
    rare = view.fields.keys() & RARE_HEADERS
    if rare:
        if "x-failed-recipients" in rare:
            failed = tuple(
                a.strip().strip("<>").lower()
                for v in view.all_values("x-failed-recipients")
                for a in v.split(",")
                if "@" in a
            )
        if not rare.isdisjoint(_AUTO_HEADER_NAMES):
            auto_header = autoreply.header_evidence(view)
        if not rare.isdisjoint(_WEAK_NAMES):
            auto_weak = autoreply.weak_evidence(view)
        if "auto-submitted" in rare:
            auto_generated = autoreply.auto_generated(view)
        if not rare.isdisjoint(_LIST_NAMES):
            list_header = bulk.list_evidence(view)
        if not rare.isdisjoint(_PRECEDENCE_NAMES):
            precedence_bulk = bulk.precedence_bulk(view)
    return Evidence(
        sender_name=name,
        sender=addr,
        mta_sender=_mta_sender(name, addr),
        null_return_path=_null_return_path(return_path),
        bounce_subject=_subject_bounce(subject),
        failed_recipients=failed,
        content_type=ctype,
        report_type=report_type,
        auto_header=auto_header,
        auto_weak=auto_weak,
        auto_generated=auto_generated,
        auto_subject=_subject_auto(subject),
        list_header=list_header,
        precedence_bulk=precedence_bulk,
        automated_sender=_automated(addr),
        verp=_verp(return_path) if return_path else None,
    )


def _null_return_path(value: str) -> bool:
    return value.replace(" ", "").lower() in ("<>", "<mailer-daemon>", "mailer-daemon")


# Return-Path repeats per sender (and list service): bulk.verp_return_path of the value.
_verp = lru_cache(maxsize=MEMO_SIZE)(bulk.verp_of)
