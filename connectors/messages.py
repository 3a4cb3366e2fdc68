"""From a header block to the MailMessage every mail source reports.

One builder for every connector (IMAP, Maildir, the memory fake, Gmail and
Graph to come), so a message reads the same whichever way it arrived and a
message with nothing to thread or classify on is skipped the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from connectors.headers import ParsedHeaders, parse_header_block, select_fields
from connectors.model import FolderRole, MailMessage, Skipped

NO_USABLE_FIELDS = "no usable header fields"
_NONE: frozenset[str] = frozenset()


def build_message(
    block: bytes,
    *,
    ref: str,
    folder: str,
    role: FolderRole,
    received: datetime | None,
    wanted: frozenset[str] | None = None,
    parsed: ParsedHeaders | None = None,
    flags: frozenset[str] = _NONE,
    tags: frozenset[str] = _NONE,
    header_tags: bool = True,
    size: int | None = None,
    provider_thread_id: str | None = None,
    problems: Sequence[str] = (),
) -> MailMessage | Skipped:
    """The MailMessage for one header block, or Skipped when it has nothing usable.

    `wanted`: lower-case field names to keep in `headers` (None: the block is
    already only those, as an IMAP FETCH of named fields returns it).
    `parsed`: the block's parse when the caller needed it first (saves a second).
    `tags`: gw:* tags from the provider's native form (keywords, labels);
    `header_tags` adds those of the X-Ghostwatch-Tags header.
    `problems`: what the connector itself had to repair, after the parser's.
    """
    if parsed is None:
        parsed = parse_header_block(block)
    if not (parsed.message_id or parsed.date or parsed.sender or parsed.subject):
        # Nothing to thread or classify on.
        return Skipped(ref=ref, folder=folder, reason=NO_USABLE_FIELDS)
    return MailMessage(
        ref=ref,
        folder=folder,
        folder_role=role,
        message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        subject=parsed.subject,
        sender=parsed.sender,
        to=parsed.to,
        cc=parsed.cc,
        bcc=parsed.bcc,
        date=parsed.date,
        received=received,
        headers=block if wanted is None else select_fields(block, wanted),
        tags=tags | parsed.tags if header_tags else tags,
        flags=flags,
        provider_thread_id=provider_thread_id,
        size=size,
        problems=(*parsed.problems, *problems) if problems else parsed.problems,
    )


def header_block(raw: bytes) -> bytes:
    """The header block of a whole message (up to the first empty line), CRLF-ended."""
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0] + b"\r\n"
