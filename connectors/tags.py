"""gw: tags as every connector hands them on: one spelling whatever the mail client typed.

A tag is ``gw:<key>`` or ``gw:<key>:<value>``. The prefix and the key are
lower-cased, and so are values that select something (``gw:role:Exec`` must hit
the rule for ``exec``). Title and company are free text printed in drafts, so
their value keeps its case and inner spaces wherever the source can carry them
(Gmail labels, Outlook categories, the Maildir header); IMAP keywords are atoms
and cannot hold spaces at all.
"""

from __future__ import annotations

import re

TAG_PREFIX = "gw:"
FREE_TEXT_KEYS = frozenset({"title", "company"})

# In an X-Ghostwatch-Tags header, tags are separated by commas, semicolons, line
# breaks, or by whitespace in front of the next "gw:". Plain whitespace alone does
# not end a tag, so "gw:title:Senior PM" stays one tag.
_HEADER_SPLIT = re.compile(r"[,;\r\n]+|\s+(?=gw:)", re.IGNORECASE)


def normalize_tag(text: str) -> str | None:
    """'GW:Role:Exec' -> 'gw:role:exec', 'gw:Title:Senior  PM' -> 'gw:title:Senior PM',
    anything not starting with gw: -> None."""
    token = str(text).strip()
    if not token.lower().startswith(TAG_PREFIX):
        return None
    key, sep, value = token[len(TAG_PREFIX) :].partition(":")
    if key.strip().lower() in FREE_TEXT_KEYS:
        return f"{TAG_PREFIX}{key.strip().lower()}{sep}{' '.join(value.split())}"
    return token.lower()


def split_tag_header(value: str) -> list[str]:
    """The gw: tags of one X-Ghostwatch-Tags header value, normalised.

    Selecting tags end at whitespace as before ("gw:stop gw:role:tech"); a
    title or company runs to the next comma, semicolon, line break or "gw:".
    """
    tags: list[str] = []
    for chunk in _HEADER_SPLIT.split(value):
        chunk = chunk.strip()
        if not chunk:
            continue
        key = chunk[len(TAG_PREFIX) :].partition(":")[0].strip().lower()
        is_free = chunk.lower().startswith(TAG_PREFIX) and key in FREE_TEXT_KEYS
        for word in [chunk] if is_free else chunk.split():
            tag = normalize_tag(word)
            if tag is not None:
                tags.append(tag)
    return tags
