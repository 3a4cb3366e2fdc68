"""Header parsing shared by every connector that sees raw RFC 5322 bytes: the
fields every connector keeps, `parse_header_block` (the headers of one message
as `ParsedHeaders`) and `select_fields`. The pieces are in header_text
(charsets, encoded words), header_split (the block into fields) and
header_values (addresses, dates, Message-IDs, tags).

Real mail is messy: raw 8-bit GBK subjects, RFC 2047 words in charsets Python
does not know by their label, missing Message-IDs, 1 MB headers. Nothing here
raises; what had to be repaired is listed in `problems` for `explain`.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from connectors.header_split import FieldSplitter
from connectors.header_values import (
    BARE_MSGID,
    MSGID,
    AddressField,
    cached_addresses,
    display_text,
    parse_date,
    parse_msgids,
    parse_tags,
)
from connectors.model import Address

# The fields every connector keeps in MailMessage.headers, whatever else the daemon
# asks for: threading and ghostwatch's own markers depend on them.
ALWAYS_KEEP = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "x-ghostwatch-tags",
        "x-ghostwatch-key",
    }
)

# The fields parse_header_block reads; the rest stays in the raw block for the classifier.
_READ_FIELDS = frozenset(
    {
        "message-id",
        "date",
        "in-reply-to",
        "references",
        "subject",
        "from",
        "to",
        "cc",
        "bcc",
        "x-ghostwatch-tags",
    }
)
_NO_TAGS: frozenset[str] = frozenset()


class ParsedHeaders(NamedTuple):
    """What parse_header_block found. A named tuple: built once per message on the sync
    path, and a frozen dataclass costs twice as much to construct."""

    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    sender: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime | None
    tags: frozenset[str]
    problems: tuple[str, ...]
    bcc: tuple[Address, ...] = ()


_READ = FieldSplitter(_READ_FIELDS)
# Problems starting with this make the message unusable for follow-ups; ingest logs them.
UNTRACKABLE = "untrackable: "


def _one_sender(senders: AddressField) -> Address | None:
    """The From mailbox, when there is exactly one: two are more than a From should hold."""
    return senders.addresses[0] if len(senders.addresses) == 1 else None


def parse_header_block(raw: bytes) -> ParsedHeaders:
    """Parse the header block of a message (or the whole message); never raises."""
    fields = _READ.split(raw)
    problems: list[str] = []
    values = fields.get("message-id")
    raw_id = values[0] if values else None
    found = MSGID.search(raw_id) if raw_id else None
    message_id = found.group(1) if found is not None else None
    if message_id is None and raw_id and BARE_MSGID.fullmatch(raw_id.strip()):
        message_id = raw_id.strip()  # some mailers forget the angle brackets
        problems.append("Message-ID without angle brackets")
    elif message_id is None:
        problems.append("no Message-ID" if not raw_id else "unparsable Message-ID")
    values = fields.get("date")
    raw_date = values[0] if values else None
    date = parse_date(raw_date)
    if date is None:
        problems.append("no Date" if raw_date is None else f"unparsable Date {raw_date[:60]!r}")
    values = fields.get("in-reply-to")
    found = MSGID.search(values[0]) if values else None
    senders = cached_addresses(fields.get("from"), "From")
    to = cached_addresses(fields.get("to"), "To")
    cc = cached_addresses(fields.get("cc"), "Cc")
    bcc = cached_addresses(fields.get("bcc"), "Bcc")
    sender = _one_sender(senders)
    for part in (senders, to, cc, bcc):
        problems.extend(part.problems)
        if part.ambiguous is not None:
            problems.append(f"{UNTRACKABLE}{part.ambiguous}")
    if sender is None and senders.ambiguous is None:
        if len(senders.addresses) > 1:
            problems.append(f"{UNTRACKABLE}ambiguous From: {len(senders.addresses)} addresses")
        else:
            problems.append("no usable From")
    values = fields.get("references")
    subjects = fields.get("subject")
    tag_values = fields.get("x-ghostwatch-tags")
    return ParsedHeaders(
        message_id=message_id,
        in_reply_to=found.group(1) if found is not None else None,
        references=parse_msgids(" ".join(values)) if values else (),
        subject=display_text(subjects[0]) if subjects else "",
        sender=sender,
        to=to.addresses,
        cc=cc.addresses,
        date=date,
        tags=parse_tags(tag_values) if tag_values else _NO_TAGS,
        problems=tuple(problems),
        bcc=bcc.addresses,
    )


def select_fields(block: bytes, wanted: frozenset[str]) -> bytes:
    """Only the header fields named in `wanted` (lower case), folding kept."""
    out: list[bytes] = []
    keep = False
    for line in block.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower()
        keep = b":" in line and name.decode("ascii", "replace") in wanted
        if keep:
            out.append(line)
    return b"".join(out)
