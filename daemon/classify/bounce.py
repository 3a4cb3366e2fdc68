"""Delivery failures: RFC 3464 reports and the plain-text notices of common MTAs.

A bounce is recognised from structure first (a delivery-status part with a
failed or delayed recipient), then from an MTA-looking sender or subject plus
the wording MTAs use (Postfix, Exim, qmail, Sendmail, Exchange, Domino,
GroupWise, Gmail, sina/163...). Recipients, status and hard/soft are taken from
the report when there is one, else from the notice text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from daemon.classify.bounce_reason import (
    REPLY_CODE,
    STATUS_CODE,
    command_in,
    is_hard,
    reason_of,
    status_in,
)
from daemon.classify.model import BounceInfo

# Reasons that say little on their own: the notice text may say more.
_VAGUE = frozenset({"onhold", "undefined", "systemerror", "securityerror", "expired"})
# Amazon SES names some reasons itself (bounceSubType).
_SES_SUBTYPE = {
    "suppressed": "suppressed",
    "onaccountsuppressionlist": "suppressed",
    "mailboxfull": "mailboxfull",
    "messagetoolarge": "mesgtoobig",
    "contentrejected": "filtered",
    "noemail": "userunknown",
}

# Local parts MTAs send notices from; "post_master" is Verizon's spelling.
_MTA_LOCAL = re.compile(
    r"^(mailer[-_.]?daemon|post[-_.]?master|mail[-_.]?delivery[-_.]?(sub)?system|mdaemon|"
    r"mail[-_.]?administrator|ndr|nondelivery|bounces?)(\+.*)?$"
)
_MTA_NAME = re.compile(
    r"mail(er)?[ -]?daemon|mail delivery (sub)?system|postmaster|delivery status notification",
    re.I,
)
_SUBJECT = re.compile(
    r"undeliver|returned mail|returning message to sender|mail delivery fail|delivery fail|"
    r"delivery status notification|delivery notification|delivery status|failure notice|"
    r"non[- ]?deliver|could not (be )?deliver|couldn'?t be delivered|not delivered|"
    r"delivery (has )?failed|message delayed|delayed mail|delivery delayed|"
    r"could not send (mail|message)|mail system error|mail failure|returned to sender|"
    r"unzustellbar|nicht zustellbar|non remis|non recapitabile|no se puede entregar|"
    r"onbestelbaar|olevererbar|niedostarczon|не доставлено|"
    r"退信|退回|投递失败|传输失败|发送失败|未能送达|无法送达|無法傳遞|傳送失敗|"
    r"配信エラー|配信不能|送信エラー|전송 실패|배달 실패",
    re.I,
)
# Wording of the notice itself; only consulted when the headers already look
# like a notice, so ordinary mail that mentions "undeliverable" stays human.
_PHRASE = re.compile(
    r"could not be delivered|couldn'?t be delivered|was not delivered|wasn'?t delivered|"
    r"undeliverable|delivery (to the following recipients? )?(has )?failed|"
    r"failed to deliver|unable to deliver|permanent (fatal )?errors?|fatal errors?|"
    r"delivery to the following recipients? failed|did not reach the following recipient|"
    r"this is the mail system at host|i'?m sorry to have to inform you|"
    r"created automatically by mail delivery software|this is the qmail-send program|"
    r"user unknown|unknown user|no such (user|recipient|mailbox)|"
    r"mailbox (is )?(unavailable|full|not found|disabled|inactive|quota)|"
    r"recipient address rejected|address rejected|over quota|quota exceeded|"
    r"message (was )?(rejected|blocked|refused)|returned to sender|"
    r"delivery (is )?delayed|has not (yet )?been delivered|will (continue to )?(re)?try|"
    r"temporar(y|ily) (failure|unavailable|error)|delivery status notification|"
    r"delivery has failed|non[- ]?delivery|not be delivered|could not deliver|"
    r"host or domain name not found|message not delivered|smtp error|"
    r"remote (server|host) (said|returned)|said:\s*[45]\d\d|delivery errors?|"
    r"following addresses? had|failed addresses?|unknown host|transcript of (the )?session|"
    r"invalid (user|recipient|mailbox) address|requested action not taken|"
    r"not a member of (this|the) (mailing )?list|post(ing)? (was )?rejected|"
    r"无法投递|投递失败|无法送达|未能送达|退信|传输失败|发送失败|用户不存在|"
    r"送信できませんでした|配信できませんでした|届きませんでした|"
    r"unzustellbar|konnte nicht zugestellt|n'a pas pu être remis|non remis|"
    r"no (se )?(ha )?(podido|pudo) (ser )?entregar|non è stato possibile recapitare",
    re.I,
)
_DELAY = re.compile(
    r"delay(ed)?|not yet been delivered|will (continue to )?(re)?try|still trying|"
    r"warning: could not send|temporar",
    re.I,
)
_ADDR = re.compile(
    r"[\w.!#$%&'*+/=?^`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
)
# Where an MTA starts quoting the original message: nothing below is notice.
_ORIGINAL_MARK = re.compile(
    r"^[ \t>]*(-{2,}|={2,}|\*{2,})?[ \t]*("
    r"original message|this is a copy of|below this line is a copy|"
    r"copy of (the )?(original )?message|returned message|"
    r"message headers? follows?|original message (headers )?follows|the header of the original|"
    r"undelivered message (attached|headers)|headers of the original|"
    r"content-type: message/rfc822|原始邮件|原邮件|原信|元のメッセージ)",
    re.I | re.M,
)
_QUOTED_HEADERS = re.compile(r"^(Received|Return-Path|Message-I[Dd]|DKIM-Signature):", re.M)
_FIELD = re.compile(r"^([A-Za-z-]+)\s*:\s*(.*)$")


@dataclass(frozen=True)
class DsnRecipient:
    address: str
    action: str
    status: str
    diagnostic: str


def is_mta_sender(name: str, addr: str) -> bool:
    local = addr.split("@", 1)[0]
    if not addr and (not name or name.strip("<> ") == ""):
        return True  # "From: <>" or no usable From: only machines send that
    return bool(_MTA_LOCAL.match(local)) or bool(_MTA_NAME.search(name))


def bounce_subject(subject: str) -> str | None:
    match = _SUBJECT.search(subject)
    return match.group(0) if match else None


def notice_phrase(text: str) -> str | None:
    match = _PHRASE.search(notice_part(text))
    return match.group(0) if match else None


def notice_part(text: str) -> str:
    """The MTA's own words: everything before the quoted original message."""
    cut = len(text)
    for pattern in (_ORIGINAL_MARK, _QUOTED_HEADERS):
        match = pattern.search(text)
        if match and match.start() > 0:
            cut = min(cut, match.start())
    return text[:cut]


def parse_dsn(blocks: tuple[str, ...]) -> list[DsnRecipient]:
    """Per-recipient fields of RFC 3464 delivery-status blocks."""
    result: list[DsnRecipient] = []
    for block in blocks:
        for group in re.split(r"\n[ \t]*\r?\n", block.replace("\r\n", "\n")):
            fields = _fields(group)
            recipient = fields.get("final-recipient") or fields.get("original-recipient")
            address = _dsn_address(recipient)
            action = fields.get("action", "").split()[0].lower() if fields.get("action") else ""
            status_match = STATUS_CODE.search(fields.get("status", ""))
            status = ".".join(status_match.groups()) if status_match else ""
            if not (address or status) or (not address and not action):
                continue
            result.append(DsnRecipient(address, action, status, fields.get("diagnostic-code", "")))
    return result


def _fields(group: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    name = ""
    for line in group.splitlines():
        if line[:1] in (" ", "\t") and name:
            fields[name] += " " + line.strip()
            continue
        match = _FIELD.match(line.strip())
        if match:
            name = match.group(1).lower()
            fields.setdefault(name, match.group(2).strip())
    return fields


def _dsn_address(value: str | None) -> str:
    if not value:
        return ""
    value = value.split(";", 1)[-1].strip().strip("<>")
    match = _ADDR.search(value)
    return match.group(0).lower() if match else ""


def failing(recipients: list[DsnRecipient]) -> list[DsnRecipient]:
    """Recipients the report says failed or are delayed (not delivered/relayed/expanded)."""
    out = []
    for r in recipients:
        if (
            r.action in ("failed", "delayed", "failure", "delay")
            or (not r.action and r.status[:1] in ("4", "5"))
            or (r.action not in ("delivered", "relayed", "expanded") and r.status[:1] in ("4", "5"))
        ):
            out.append(r)
    return out


def failure_status(text: str) -> str | None:
    """An RFC 3463 failure status (4.x.x / 5.x.x) in the notice, as evidence."""
    return status_in(notice_part(text)) or None


def info_from_dsn(recipients: list[DsnRecipient], text: str = "") -> BounceInfo:
    """The report's verdict; `text` (the notice) explains recipients without a Diagnostic-Code."""
    notice = notice_part(text) if text else ""
    command = command_in(notice)
    reasons = [_dsn_reason(r, notice, command) for r in recipients]
    hard_ones = [
        (r, why)
        for r, why in zip(recipients, reasons, strict=True)
        if r.action not in ("delayed", "delay") and is_hard(why, r.status, r.diagnostic)
    ]
    lead, why = hard_ones[0] if hard_ones else (recipients[0], reasons[0])
    addresses = tuple(dict.fromkeys(r.address for r in recipients if r.address))
    return BounceInfo(
        recipients=addresses,
        status=lead.status,
        hard=bool(hard_ones),
        diagnostic=short(lead.diagnostic),
        reason=why,
    )


def _dsn_reason(r: DsnRecipient, notice: str, command: str) -> str:
    # Many MTAs leave Diagnostic-Code empty or generic and explain in the notice instead.
    why = reason_of(r.status, r.diagnostic, r.action, command)
    if why in _VAGUE and notice:
        fuller = reason_of(r.status, f"{r.diagnostic}\n{notice}", r.action, command)
        if fuller not in _VAGUE:
            return fuller
    return why


def info_from_text(text: str, exclude: set[str], subject: str = "") -> BounceInfo:
    notice = notice_part(text)
    statuses = [".".join(m.groups()) for m in STATUS_CODE.finditer(notice)]
    failures = [s for s in statuses if s[0] in "45"]
    status = next((s for s in failures if s[0] == "5"), failures[0] if failures else "")
    delayed = not status.startswith("5") and bool(
        _DELAY.search(subject) or _DELAY.search(notice[:3000])
    )
    addresses: list[str] = []
    starts: list[int] = []
    for match in _ADDR.finditer(notice):
        addr = match.group(0).lower().rstrip(".")
        local = addr.split("@", 1)[0]
        if addr in exclude or _MTA_LOCAL.match(local) or addr in addresses:
            continue
        addresses.append(addr)
        starts.append(match.start())
    action = "delayed" if delayed else ""
    lead_status, why = status, reason_of(status, notice, action)
    if len(starts) > 1:
        # Several recipients, each with its own error: the hard one (if any) leads,
        # as in a delivery-status report.
        ends = [*starts[1:], len(notice)]
        parts = [
            (status_in(notice[a:b]) or status, notice[a:b])
            for a, b in zip(starts, ends, strict=True)
        ]
        parts = [(s, reason_of(s, part, action)) for s, part in parts]
        lead_status, why = next(((s, r) for s, r in parts if is_hard(r, s)), parts[0])
        if why in _VAGUE:
            lead_status, why = status, reason_of(status, notice, action)
    hard = not delayed and is_hard(why, lead_status, notice)
    return BounceInfo(
        recipients=tuple(addresses[:20]),
        status=lead_status,
        hard=hard,
        diagnostic=short(_diagnostic_line(notice, lead_status)),
        reason=why,
    )


def _diagnostic_line(notice: str, status: str) -> str:
    for line in notice.splitlines():
        if (status and status in line) or REPLY_CODE.search(line):
            return line
    return ""


def short(value: str, limit: int = 160) -> str:
    value = re.sub(r"\s+", " ", value).strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


def ses_notification(text: str) -> BounceInfo | None:
    """An Amazon SES bounce notification delivered by SNS as JSON text."""
    start = text.find("{")
    if start < 0 or '"notificationType"' not in text[:2000]:
        return None
    try:
        data = json.loads(text[start : text.rfind("}") + 1])
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    message = data.get("Message")
    if isinstance(message, str):  # wrapped in an SNS envelope
        try:
            data = json.loads(message)
        except ValueError:
            return None
    if not isinstance(data, dict) or str(data.get("notificationType", "")).lower() != "bounce":
        return None
    bounce = data.get("bounce") if isinstance(data.get("bounce"), dict) else {}
    recipients = [r for r in bounce.get("bouncedRecipients", []) if isinstance(r, dict)]
    status = next((str(r.get("status", "")) for r in recipients if r.get("status")), "")
    code = str(recipients[0].get("diagnosticCode", "")) if recipients else ""
    subtype = str(bounce.get("bounceSubType", "")).lower()
    why = _SES_SUBTYPE.get(subtype) or reason_of(status, code)
    return BounceInfo(
        recipients=tuple(str(r.get("emailAddress", "")).lower() for r in recipients),
        status=status,
        hard=is_hard(why, status, code),
        diagnostic=short(code),
        reason=why,
    )
