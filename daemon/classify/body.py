"""The parts of a body the classifier reads: notice text and delivery reports.

Only the notice is scanned: the original message a bounce or an auto-reply
quotes back (message/rfc822, text/rfc822-headers) would otherwise make our own
outreach text look like evidence. Decoded text is capped so a huge body costs
no more than a small one.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import html
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from connectors.header_text import decode_bytes
from daemon.classify.message import MailView

MAX_TEXT = 64 * 1024  # characters of notice text scanned
MAX_PARTS = 200  # a bomb of tiny parts must not cost more than a normal message
MAX_DEPTH = 64  # nesting levels opened; MAX_PARTS bounds the work anyway
_ORIGINAL_TYPES = ("message/rfc822", "text/rfc822-headers", "message/global", "message/partial")
_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]*>", re.S | re.I)


@dataclass(frozen=True)
class BodyView:
    text: str  # human-readable notice, decoded, capped
    dsn: tuple[str, ...]  # message/delivery-status payloads as text
    feedback_report: bool  # RFC 5965 message/feedback-report part present
    report_type: str  # report-type of a top-level multipart/report, lower case


def body_of(view: MailView) -> BodyView:
    msg = view.parsed if view.parsed is not None else _parse(view.raw or b"")
    if msg is None:
        return BodyView(text="", dsn=(), feedback_report=False, report_type="")
    texts: list[str] = []
    dsn: list[str] = []
    feedback = False
    size = 0
    inner: list[str] = []  # reports inside a quoted original: a bounce of a bounce
    for part, inside_report, quoted in _leaves(msg):
        ctype = _ctype(part)
        if ctype in _DSN_TYPES or (inside_report and _looks_like_dsn_fields(part)):
            (inner if quoted else dsn).append(_payload_text(part)[:MAX_TEXT])
        elif quoted:
            continue
        elif ctype == "message/feedback-report":
            feedback = True
        elif ctype.startswith("text/") and size < MAX_TEXT and not _is_attachment(part):
            text = _payload_text(part)
            if ctype == "text/html":
                text = html_to_text(text)
            texts.append(text[: MAX_TEXT - size])
            size += len(texts[-1])
    if not "".join(texts).strip() and view.raw:
        # MIME too broken to find a text part (boundaries cut, params on the
        # wrong line): read the raw body as text rather than nothing.
        texts = [_raw_body_text(view.raw)]
    report_type = (
        str(msg.get_param("report-type", "") or "").lower()
        if _ctype(msg) == ("multipart/report")
        else ""
    )
    return BodyView(
        text="\n".join(texts),
        dsn=(*dsn, *inner),
        feedback_report=feedback,
        report_type=report_type,
    )


def _raw_body_text(raw: bytes) -> str:
    cut = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    start = min(cut) if cut else len(raw)
    return decode_bytes(raw[start : start + 4 * MAX_TEXT])[:MAX_TEXT]


def html_to_text(text: str) -> str:
    text = re.sub(r"<br\s*/?>|</p>|</div>|</tr>", "\n", text, flags=re.I)
    return html.unescape(_TAG.sub(" ", text))


def _parse(raw: bytes) -> email.message.Message | None:
    try:
        return email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception:  # the stdlib parser is lenient; anything left is junk we skip
        return None


def _leaves(
    msg: email.message.Message,
) -> Iterator[tuple[email.message.Message, bool, bool]]:
    """(leaf, inside a report, inside a quoted original), breadth first, at most MAX_PARTS.

    Breadth first: what the sender wrote sits near the top, so a bomb of parts or a deep
    nest spends the bound on the least likely places. A quoted original is opened only
    for the report inside it (a bounce attached to a bounce); its text is never read.
    """
    queue: deque[tuple[email.message.Message, bool, bool, int]] = deque([(msg, False, False, 0)])
    seen = 0
    while queue and seen < MAX_PARTS:
        part, in_report, in_original, level = queue.popleft()
        seen += 1
        ctype = _ctype(part)
        if ctype in _DSN_TYPES:
            yield part, in_report, in_original
            continue
        payload = part.get_payload()
        original = ctype in _ORIGINAL_TYPES
        if not isinstance(payload, list) or level >= MAX_DEPTH:
            if not original:
                yield part, in_report, in_original
            continue
        child_report = (in_report or ctype == "multipart/report") and not original
        queue.extend(
            (p, child_report, in_original or original, level + 1)
            for p in payload
            if isinstance(p, email.message.Message)
        )


def _ctype(part: email.message.Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # a header the stdlib cannot split: treat as plain text
        return "text/plain"


def _is_attachment(part: email.message.Message) -> bool:
    disposition = str(part.get("content-disposition", "")).lower()
    return disposition.startswith("attachment")


def _looks_like_dsn_fields(part: email.message.Message) -> bool:
    # Some MTAs label the delivery-status part text/plain; its fields give it away.
    head = _payload_text(part)[:2000]
    return bool(re.search(r"^(Final-Recipient|Original-Recipient)\s*:", head, re.M | re.I)) and (
        bool(re.search(r"^(Action|Status)\s*:", head, re.M | re.I))
    )


def _payload_text(part: email.message.Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list):
        # compat32 parses message/delivery-status into header blocks: rebuild them.
        blocks = []
        for sub in payload:
            if isinstance(sub, email.message.Message):
                blocks.append("\n".join(f"{k}: {v}" for k, v in sub.items()))
        return "\n\n".join(blocks)
    try:
        data = part.get_payload(decode=True)
    except Exception:  # broken base64/quoted-printable: fall back to the raw text
        data = None
    if not isinstance(data, bytes):
        return str(payload)[: 4 * MAX_TEXT]
    data = data[: 4 * MAX_TEXT]
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    if charset in (None, "us-ascii", "ascii") and _looks_like_iso2022(data):
        charset = "iso-2022-jp"
    return decode_bytes(data, charset)


def _looks_like_iso2022(data: bytes) -> bool:
    return b"\x1b$B" in data or b"\x1b$@" in data
