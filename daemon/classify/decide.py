"""The decision: bounce evidence first, then auto-reply, bulk, and human by default.

Order matters and each step says why it comes where it does; every verdict
names the evidence that decided it.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date

from daemon.classify import autoreply, bounce
from daemon.classify.body import BodyView
from daemon.classify.evidence import Evidence
from daemon.classify.message import MailView, first_address
from daemon.classify.model import BounceInfo, Classification
from daemon.classify.returndate import find_return_date


def from_headers(ev: Evidence) -> Classification:
    """Best verdict from headers alone; needs_body says whether the body could change it."""
    # Bounce evidence goes first: Postfix, Exim and Exchange put
    # "Auto-Submitted: auto-replied" on their DSNs, and list relays add List-Id.
    if ev.failed_recipients:
        info = BounceInfo(recipients=ev.failed_recipients, status="", hard=True)
        reason = f"header X-Failed-Recipients: {', '.join(ev.failed_recipients)[:80]}"
        return Classification("bounce", reason, bounce=info, needs_body=True)
    if ev.report_type == "delivery-status":
        return Classification("bounce", "multipart/report delivery-status", needs_body=True)
    if ev.report_type == "feedback-report":
        return Classification("bulk", "multipart/report feedback-report (RFC 5965 abuse report)")
    if ev.mta_sender:
        who = ev.sender or "empty From"
        detail = f", subject '{ev.bounce_subject}'" if ev.bounce_subject else ""
        return Classification("bounce", f"sender {who}{detail}", needs_body=True)
    if ev.bounce_subject and not ev.auto_header:
        return Classification("bounce", f"subject '{ev.bounce_subject}'", needs_body=True)
    return not_bounce(ev, None)


def not_bounce(ev: Evidence, text: str | None) -> Classification:
    """Verdict once a bounce is ruled out (or not suspected); text is the body when read."""
    with_body = text is not None
    if ev.auto_header:
        return Classification("auto_reply", ev.auto_header, needs_body=not with_body)
    hint = ev.auto_weak or ev.auto_generated or ev.precedence_bulk or _null_rp(ev)
    if ev.auto_subject and (hint or not ev.list_header):
        extra = f" with {hint}" if hint else ""
        reason = f"subject '{ev.auto_subject}'{extra}"
        return Classification("auto_reply", reason, needs_body=not with_body)
    if ev.auto_generated:
        return Classification("bulk", f"{ev.auto_generated} (automatic notification)")
    if ev.list_header:
        return Classification("bulk", ev.list_header)
    if ev.mta_sender:
        who = ev.sender or "empty From"
        return Classification("bulk", f"notice from {who}, no delivery failure found")
    weak = ev.auto_weak or ev.precedence_bulk or _null_rp(ev)
    if weak:
        # Responders that set only one of these exist (Precedence: junk, a bare
        # X-Auto-Response-Suppress); the body tells a responder from a mailing.
        if not with_body:
            kind = "bulk" if ev.precedence_bulk else "auto_reply"
            return Classification(kind, weak, needs_body=True)
        marks = autoreply.body_marks(text or "")
        if marks:
            return Classification("auto_reply", f"{weak}; body says '{marks}'")
        if ev.precedence_bulk:
            return Classification("bulk", ev.precedence_bulk)
        return Classification("auto_reply", f"{weak}: automatic message, not a delivery failure")
    if ev.automated_sender:
        # No list headers: transactional mail, or a bounce notice from a
        # sending service (SES, carriers) that only the body reveals.
        return Classification("bulk", ev.automated_sender, needs_body=not with_body)
    if ev.verp:
        return Classification("bulk", ev.verp)
    return Classification("human", "no automatic, bounce or bulk evidence")


def _null_rp(ev: Evidence) -> str | None:
    return "null Return-Path <>" if ev.null_return_path else None


def with_body(
    ev: Evidence, view: MailView, body: BodyView, received: date, locale: str | None
) -> Classification:
    verdict = _bounce_or_report(ev, view, body)
    if verdict is None:
        challenge = autoreply.challenge_marks(body.text)
        if challenge and (
            ev.bounce_suspect
            or ev.null_return_path
            or ev.automated_sender
            or ev.auto_header
            or ev.precedence_bulk
            or not ev.list_header
        ):
            verdict = Classification("auto_reply", f"challenge/response: '{challenge}'")
        else:
            verdict = not_bounce(ev, body.text)
    if verdict.kind == "auto_reply":
        when = find_return_date(f"{view.subject}\n{_reply_text(body.text)}", received, locale)
        if when is not None:
            verdict = Classification("auto_reply", verdict.reason, return_date=when)
    return verdict


def _bounce_or_report(ev: Evidence, view: MailView, body: BodyView) -> Classification | None:
    if body.feedback_report or body.report_type == "feedback-report":
        return Classification("bulk", "message/feedback-report (RFC 5965 abuse report)")
    recipients = bounce.parse_dsn(body.dsn)
    failed = bounce.failing(recipients)
    if failed:
        challenge = autoreply.challenge_marks(body.text) or _replies_as_recipient(view, failed)
        if challenge:
            # Boxbe and friends wrap their "please verify" in a DSN.
            reason = f"challenge/response inside delivery-status: {challenge}"
            return Classification("auto_reply", reason)
        info = bounce.info_from_dsn(failed, body.text)
        action = failed[0].action or "failed"
        return Classification(
            "bounce",
            f"delivery-status report: Action {action}, Status {info.status or 'none'}",
            bounce=info,
        )
    if recipients and ev.report_type == "delivery-status" and not ev.mta_sender:
        return Classification("bulk", "delivery-status report of a successful delivery")
    if ev.automated_sender or ev.bounce_suspect:
        ses = bounce.ses_notification(body.text)
        if ses is not None:
            return Classification("bounce", "Amazon SES bounce notification", bounce=ses)
    exclude = _own_addresses(view, ev)
    if ev.failed_recipients:
        info = bounce.info_from_text(body.text, exclude, view.subject)
        info = dataclasses.replace(info, recipients=ev.failed_recipients)
        reason = f"header X-Failed-Recipients, Status {info.status or 'none'}"
        return Classification("bounce", reason, bounce=info)
    strong = ev.mta_sender or ev.bounce_subject or ev.report_type == "delivery-status"
    context = strong or ev.null_return_path or ev.automated_sender
    if not context or (ev.auto_header and not strong):
        return None
    phrase = bounce.notice_phrase(body.text)
    if phrase is None and ev.mta_sender:
        status = bounce.failure_status(body.text)
        phrase = f"status {status}" if status else None
    if phrase or (ev.mta_sender and ev.bounce_subject):
        info = bounce.info_from_text(body.text, exclude, view.subject)
        why = (
            f"notice says '{bounce.short(phrase, 40)}'"
            if phrase
            else f"subject '{ev.bounce_subject}'"
        )
        who = (
            f"sender {ev.sender or 'empty From'}"
            if ev.mta_sender
            else (
                f"subject '{ev.bounce_subject}'"
                if ev.bounce_subject
                else "null Return-Path <>"
                if ev.null_return_path
                else ev.automated_sender
            )
        )
        status = f", Status {info.status}" if info.status else ""
        reason = why if why.startswith("subject") and who.startswith("subject") else f"{who}; {why}"
        return Classification("bounce", f"{reason}{status}", bounce=info)
    return None


def _replies_as_recipient(view: MailView, failed: list[bounce.DsnRecipient]) -> str | None:
    # An MTA never answers in the failed recipient's name; a challenge system does.
    _, reply_to = first_address(view.value("reply-to"))
    addresses = {r.address for r in failed}
    if reply_to and reply_to in addresses:
        return f"Reply-To is the reported recipient {reply_to}"
    return None


def _own_addresses(view: MailView, ev: Evidence) -> set[str]:
    own = {ev.sender} if ev.sender else set()
    for value in view.all_values("to"):
        own.add(first_address(value)[1])
    return own


_QUOTE_START = re.compile(
    r"^(-{3,}\s*original message|-{3,}\s*原始邮件|from:\s|发件人[:：]|von:\s|de\s?:\s|"
    r"on .{5,80} wrote:|.{0,40}写道[:：])",
    re.I | re.M,
)


def _reply_text(text: str) -> str:
    """The responder's own words: quoted original and '>' lines removed."""
    match = _QUOTE_START.search(text)
    head = text[: match.start()] if match else text
    return "\n".join(line for line in head.splitlines() if not line.lstrip().startswith(">"))
