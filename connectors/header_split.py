"""A raw header block split into its fields: name (lower case) -> raw values as
text, decoded field by field so one GBK header does not garble a UTF-8
neighbour; `FieldSplitter` reads only some fields, fast, for the sync path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from connectors.header_text import decode_bytes

MAX_HEADER_VALUE = 16_384  # longer values are cut: nobody's subject needs more
_ASCII_WS = " \t\n\r\x0b\x0c"  # what bytes.strip() strips; str.strip() strips more
# For a block with LF put in front: each field (a printable-ASCII name, which the line
# splitter takes as it stands, and the value with its continuation lines), or an empty
# match at a line that is neither a field nor a continuation of one.
_ANY_FIELD = re.compile(r"\n(?:([!-9;-~]+):(.*(?:\n[ \t].*)*))?")


def _only_fields(names: frozenset[str]) -> re.Pattern[str]:
    """Like _ANY_FIELD for `names` only: other good fields match nothing at all.
    ASCII case folding: under Unicode rules "ſubject" would pass for "subject"."""
    return re.compile(
        r"\n(?:((?ai:"
        + "|".join(map(re.escape, sorted(names)))
        + r")):(.*(?:\n[ \t].*)*)|(?![ \t]|[!-9;-~]+:))"
    )


_NAMES: dict[str, str] = {}  # field name as spelt -> lower case: the same few names recur


def split_header_block(raw: bytes) -> dict[str, list[str]]:
    """Header name (lower case) -> raw values as text, in order of appearance.

    Lines are split on LF only (never on NEL or U+2028, which would let a
    value smuggle in a header of its own), and each field is decoded on its
    own so one GBK header does not garble a UTF-8 neighbour.
    """
    return _split(raw, None)


class FieldSplitter:
    """`split_header_block` restricted to some fields, without building the others.

    Reading a handful of fields from 100k header blocks: one regex pass finds
    them and stops at any line that is neither a well-formed field nor a
    continuation of one; such blocks, and blocks that are not plain UTF-8 or
    too long for the uncapped path, go through the general splitter.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(n.lower() for n in names)
        self._pattern = _only_fields(self.names)

    def split(self, raw: bytes) -> dict[str, list[str]]:
        """`split_header_block(raw)` with only the wanted names, in the same order."""
        return _split(raw, self.names, self._pattern)


def _split(
    raw: bytes, wanted: frozenset[str] | None, pattern: re.Pattern[str] = _ANY_FIELD
) -> dict[str, list[str]]:
    """split_header_block, keeping only the `wanted` fields when given; `pattern`
    either finds every field or (a FieldSplitter's) only the wanted ones."""
    block = _header_bytes(raw)
    text = _clean_text_block(block)
    if text is not None and len(text) < MAX_HEADER_VALUE:
        tiled = _split_regex(text, wanted if pattern is _ANY_FIELD else None, pattern)
        if tiled is not None:
            return tiled
    fields = _split_bytes(block) if text is None else _split_text(text)
    if wanted is None:
        return fields
    return {name: values for name, values in fields.items() if name in wanted}


def _split_regex(
    text: str, wanted: frozenset[str] | None, pattern: re.Pattern[str]
) -> dict[str, list[str]] | None:
    """_split_text in one regex pass, or None when some line is not a well-formed field.

    A bad field, a stray continuation or an mbox "From " line leaves an empty match
    and goes to the line loop, which knows what to do with it. Below MAX_HEADER_VALUE
    characters no cap can apply.
    """
    ws = _ASCII_WS
    lower = _NAMES
    fields: dict[str, list[str]] = {}
    for name, value in pattern.findall("\n" + text):
        key = lower.get(name)
        if key is None:
            if not name:
                return None
            key = name.lower()
            if len(lower) < 1024:  # names come from mail
                lower[name] = key
        if wanted is not None and key not in wanted:
            continue
        if "\n" in value:
            value = " ".join([line.strip(ws) for line in value.split("\n")])
        else:
            value = value.strip(ws)
        if key in fields:
            fields[key].append(value)
        else:
            fields[key] = [value]
    return fields


def _split_bytes(block: bytes) -> dict[str, list[str]]:
    """The general case: each field decoded on its own (mixed GBK / UTF-8 blocks)."""
    fields: dict[str, list[str]] = {}
    name: str | None = None
    buf: list[bytes] = []
    size = 0

    def flush() -> None:
        if name is not None:
            value = decode_bytes(b" ".join(buf))[:MAX_HEADER_VALUE]
            fields.setdefault(name, []).append(value)

    for number, line in enumerate(block.split(b"\n")):
        line = line.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):
            if name is not None and size < MAX_HEADER_VALUE:
                buf.append(line.strip())
                size += len(line)
            continue
        if number == 0 and line.startswith(b"From "):
            continue  # mbox separator line
        flush()
        head, sep, rest = line.partition(b":")
        head = head.strip()
        if not sep or not head or b" " in head or b"\t" in head:
            name, buf = None, []
            continue
        name = head.decode("ascii", "replace").lower()
        buf = [rest.strip()]
        size = len(rest)
    flush()
    return fields


def _clean_text_block(block: bytes) -> str | None:
    """The block as text when decoding it whole gives what decoding each field would.

    ASCII always does. Valid UTF-8 does too (fields split on ASCII bytes never cut a
    character), as long as the block is shorter than MAX_HEADER_VALUE: the cap counts
    bytes while the text loop counts characters, and below it neither ever cuts.
    """
    if block.isascii():
        return block.decode("ascii")
    if len(block) < MAX_HEADER_VALUE:
        try:
            return block.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _split_text(block: str) -> dict[str, list[str]]:
    """split_header_block on text already decoded: the same steps, one decode for all."""
    ws = _ASCII_WS
    fields: dict[str, list[str]] = {}
    name: str | None = None
    buf: list[str] = []
    size = 0
    lines = block.split("\n")
    if lines[0].startswith("From "):
        lines[0] = ""  # mbox separator line: like a line that is no field
    for line in lines:
        line = line.rstrip("\r")
        first = line[:1]
        if first == " " or first == "\t":
            if name is not None and size < MAX_HEADER_VALUE:
                buf.append(line.strip(ws))
                size += len(line)
            continue
        if name is not None:
            value = " ".join(buf) if len(buf) > 1 else buf[0]
            known = fields.get(name)
            if known is None:
                fields[name] = [value[:MAX_HEADER_VALUE]]
            else:
                known.append(value[:MAX_HEADER_VALUE])
        head, sep, rest = line.partition(":")
        head = head.strip(ws)
        if not sep or not head or " " in head or "\t" in head:
            name, buf = None, []
            continue
        if not head.isascii():
            head = head.encode("utf-8").decode("ascii", "replace")
        name = head.lower()
        buf = [rest.strip(ws)]
        size = len(rest)
    if name is not None:
        value = " ".join(buf)[:MAX_HEADER_VALUE]
        fields.setdefault(name, []).append(value)
    return fields


def _header_bytes(raw: bytes) -> bytes:
    crlf = raw.find(b"\r\n\r\n")
    # An LF LF ahead of the first CRLF CRLF lies wholly before it (its second byte
    # would otherwise be the CR), so the second search can stop there.
    lf = raw.find(b"\n\n", 0, crlf) if crlf >= 0 else raw.find(b"\n\n")
    if lf >= 0:
        return raw[:lf]
    return raw[:crlf] if crlf >= 0 else raw
