"""Build the RFC 5322 bytes of a ghostwatch draft, and recognise them later.

Every header value is reduced to printable text before it is written, so a
contact's name like "x\\r\\nBcc: y@z" can never become a header of its own.
Headers are encoded and folded here and handed to the email package raw: its
own folder drops the space between an ASCII word and an RFC 2047 word, and
turns long Message-IDs into encoded words that mail clients do not match.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

from connectors.errors import Permanent
from connectors.model import Address, DraftSpec

KEY_HEADER = "X-Ghostwatch-Key"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_MSGID_JUNK = re.compile(r"[\s<>\x00-\x1f\x7f]+")
_ADDR_SPECIALS = re.compile(r'[<>(),;:"\[\]\\]')
_ENCODED_WORD_LEFT = re.compile(r"=\?[^?\s]*\?[bBqQ]\?")
_MAX_ID = 900  # an id longer than this could not stay under the 998-octet line limit
_MAX_NAME = 200
_WORD_BYTES = 39  # "=?utf-8?b?" + 52 base64 chars + "?=" fits a line after "Subject: "
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|odp|ynt|atb)(?:\s*[\[(]\d+[\])])?|回复|回覆|答复|答覆)\s*[:：]\s*",
    re.IGNORECASE,
)


def clean_header_text(value: str) -> str:
    """One line of text: control characters and line breaks become single spaces."""
    return re.sub(r" {2,}", " ", _CONTROL.sub(" ", value)).strip()


def reply_subject(original: str) -> str:
    """`Re: <original>` without stacking reply prefixes (Re:, AW:, SV:, 回复：...)."""
    rest = clean_header_text(original)
    while True:
        stripped = _REPLY_PREFIX.sub("", rest, count=1)
        if stripped == rest:
            break
        rest = stripped
    return f"Re: {rest}" if rest else "Re:"


def _msgid(value: str | None) -> str | None:
    """`<id>` from an id with or without brackets, or None when nothing usable is left."""
    if not value:
        return None
    core = _MSGID_JUNK.sub("", value)
    # Ids are ASCII (RFC 5322); a raw 8-bit one from someone's References cannot be
    # written into a 7-bit header and is left out rather than failing the draft.
    if not core or len(core) > _MAX_ID or not core.isascii():
        return None
    return f"<{core}>"


def _addr_spec(addr: Address) -> str:
    spec = _CONTROL.sub("", addr.addr).replace(" ", "")
    local, at, domain = spec.rpartition("@")
    if not at or not local or not domain or _ADDR_SPECIALS.search(spec):
        raise Permanent(f"not a usable mail address: {spec[:80]!r}")
    if not local.isascii():
        raise Permanent(f"non-ASCII local part needs SMTPUTF8: {spec[:80]!r}")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise Permanent(f"not a usable mail domain: {domain[:80]!r}") from exc
    return f"{local}@{domain}"


def _mailbox_tokens(addr: Address) -> list[str]:
    """The mailbox as foldable tokens: encoded words of the name, then `<spec>`."""
    spec = _addr_spec(addr)
    name = clean_header_text(addr.name)[:_MAX_NAME]
    if not name or "@" in name or _ENCODED_WORD_LEFT.search(name):
        # A name holding an address, or an undecodable encoded word the reader's client
        # would decode again (into anything), could be taken for the recipient: the bare
        # address says who it is for.
        return [spec]
    if name.isascii() and len(name) <= 60:
        return [formataddr((name, spec))]
    return [*_encoded_words(name), f"<{spec}>"]


def _address_list(name: str, addrs: tuple[Address, ...]) -> str:
    tokens: list[str] = []
    for i, addr in enumerate(addrs):
        parts = _mailbox_tokens(addr)
        if i < len(addrs) - 1:
            parts[-1] += ","
        tokens += parts
    return _fold(name, tokens)


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 B-words of at most _WORD_BYTES UTF-8 bytes each, split between characters.

    The whole text is encoded, spaces included: whitespace between two encoded
    words is dropped by decoders, so it must travel inside them.
    """
    chunks: list[bytes] = []
    chunk = b""
    for char in text:
        raw = char.encode("utf-8")
        if chunk and len(chunk) + len(raw) > _WORD_BYTES:
            chunks.append(chunk)
            chunk = b""
        chunk += raw
    if chunk:
        chunks.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(c).decode()}?=" for c in chunks]


def _fold(name: str, tokens: list[str]) -> str:
    """Tokens joined by spaces, folded so lines stay within 78 characters where possible."""
    lines: list[str] = []
    for token in tokens:
        if lines:
            used = len(lines[-1]) + (len(name) + 2 if len(lines) == 1 else 1)
            if used + 1 + len(token) <= 78:
                lines[-1] += " " + token
                continue
        lines.append(token)
    return "\r\n ".join(lines)


def _subject(text: str) -> str:
    tokens = [t for t in text.split(" ") if t]
    if text.isascii() and all(len(t) <= 60 for t in tokens):
        return _fold("Subject", tokens)
    return _fold("Subject", _encoded_words(text))


def build_draft(spec: DraftSpec, *, now: datetime | None = None) -> bytes:
    """The draft as CRLF bytes; raises Permanent if an address or the id is unusable.

    `spec.subject` is used as given (the caller applies `reply_subject`).
    """
    if not spec.to:
        raise Permanent("a draft needs at least one recipient")
    own_id = _msgid(spec.message_id)
    if own_id is None:
        raise Permanent(f"unusable Message-ID for draft {spec.key!r}")
    policy = SMTP.clone(refold_source="none", cte_type="7bit")
    msg = EmailMessage(policy=policy)
    msg.set_raw("From", _address_list("From", (spec.sender,)))
    msg.set_raw("To", _address_list("To", spec.to))
    if spec.cc:
        msg.set_raw("Cc", _address_list("Cc", spec.cc))
    if spec.reply_to is not None:
        msg.set_raw("Reply-To", _address_list("Reply-To", (spec.reply_to,)))
    msg.set_raw("Subject", _subject(clean_header_text(spec.subject)))
    msg.set_raw("Date", format_datetime((now or spec.date or datetime.now(UTC)).astimezone(UTC)))
    msg.set_raw("Message-ID", own_id)
    parent = _msgid(spec.in_reply_to)
    if parent:
        msg.set_raw("In-Reply-To", parent)
    refs = [r for r in (_msgid(x) for x in spec.references) if r]
    if parent and parent not in refs:
        refs.append(parent)
    if refs:
        msg.set_raw("References", _fold("References", refs))
    msg.set_raw(KEY_HEADER, _MSGID_JUNK.sub("", spec.key)[:_MAX_ID])
    msg.set_content(spec.body.replace("\r\n", "\n"), subtype="plain", charset="utf-8")
    return msg.as_bytes(policy=policy)


def content_hash(raw: bytes) -> str:
    """sha256 of the message with line endings and trailing whitespace normalized.

    Servers and clients may store CRLF or LF and pad the end; neither is an edit.
    """
    lines = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    normalized = b"\n".join(line.rstrip(b" \t") for line in lines).rstrip(b"\n")
    return hashlib.sha256(normalized).hexdigest()
