"""Header evidence, gathered once per message and shared by every rule."""

from __future__ import annotations

from dataclasses import dataclass

from daemon.classify import autoreply, bounce, bulk
from daemon.classify.message import MailView


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


def gather(view: MailView) -> Evidence:
    name, addr = view.sender()
    ctype, params = view.content_type()
    return_path = view.value("return-path").replace(" ", "").lower()
    failed = tuple(
        a.strip().strip("<>").lower()
        for v in view.all_values("x-failed-recipients")
        for a in v.split(",")
        if "@" in a
    )
    return Evidence(
        sender_name=name,
        sender=addr,
        mta_sender=bounce.is_mta_sender(name, addr),
        null_return_path=return_path in ("<>", "<mailer-daemon>", "mailer-daemon"),
        bounce_subject=bounce.bounce_subject(view.subject),
        failed_recipients=failed,
        content_type=ctype,
        report_type=params.get("report-type", "") if ctype == "multipart/report" else "",
        auto_header=autoreply.header_evidence(view),
        auto_weak=autoreply.weak_evidence(view),
        auto_generated=autoreply.auto_generated(view),
        auto_subject=autoreply.subject_marks(view.subject),
        list_header=bulk.list_evidence(view),
        precedence_bulk=bulk.precedence_bulk(view),
        automated_sender=bulk.automated_sender(addr),
        verp=bulk.verp_return_path(view),
    )
