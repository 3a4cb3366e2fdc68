"""A strict RFC 5322 address-list reader: an address is only ever an addr-spec.

`email.utils.getaddresses` on Python 3.11 reads `"Carl\\rBcc: x@evil" <c@real>`
as x@evil (the CVE-2023-27043 class): a draft built from it goes to a stranger.
Here CR, LF and NUL become spaces before anything is read, the address is the
text between angle brackets (or the bare addr-spec), and whatever could be read
two ways — an unclosed quote, two addresses in one mailbox, an address that
only appears inside a display name — makes the whole field `ambiguous`: the
caller then uses no address from it at all and says why, never a guess.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_NEUTRALISE = re.compile(r"[\r\n\x00]")
# What an addr-spec may hold here: dot-atom local part (no quoted local parts,
# which no contact we would follow up uses) and a domain name. Unicode letters are
# allowed (SMTPUTF8 mail exists); the composer decides whether it can write them.
_ADDR_SPEC = re.compile(r"[^\s\x00-\x1f\x7f<>()\[\],;:\"\\@]+@[^\s\x00-\x1f\x7f<>()\[\],;:\"\\@]+")
# Something in a display name that a reader could take for an address.
_ADDRESS_LIKE = re.compile(
    r"[^\s<>()\[\],;:\"'\\@]+@[^\s<>()\[\],;:\"'\\@]+\.[^\s<>()\[\],;:\"'\\@]+"
)


class Mailbox(NamedTuple):
    """One mailbox: the display name as written (still encoded) and the addr-spec."""

    name: str
    addr: str
    comment: str = ""  # comments around it: never the name, still checked for addresses


class AddressList(NamedTuple):
    mailboxes: tuple[Mailbox, ...]
    problems: tuple[str, ...]  # repaired or skipped parts, for explain
    ambiguous: str | None = None  # why no address of the field may be used


class _Ambiguous(Exception):
    pass


def has_line_controls(value: str) -> bool:
    return _NEUTRALISE.search(value) is not None


def read_address_list(values: list[str], field: str = "address") -> AddressList:
    """The mailboxes of one address field (all its occurrences); never raises."""
    problems: list[str] = []
    mailboxes: list[Mailbox] = []
    try:
        for value in values:
            if has_line_controls(value):
                value = _NEUTRALISE.sub(" ", value)
                _note(problems, f"CR, LF or NUL in {field} replaced by spaces")
            for name, spec, bare in _mailboxes(value):
                mailbox = _mailbox(name, spec, bare)
                if mailbox is None:
                    _note(problems, f"unusable {field} address skipped")
                else:
                    mailboxes.append(mailbox)
        _check_names(mailboxes)
    except _Ambiguous as exc:
        return AddressList((), tuple(problems), f"ambiguous {field}: {exc}")
    return AddressList(tuple(mailboxes), tuple(problems))


def _note(problems: list[str], text: str) -> None:
    if text not in problems:
        problems.append(text)


def _mailbox(name: str, spec: str | None, bare: str) -> Mailbox | None:
    if spec is None:
        # No angle brackets: the mailbox is the addr-spec alone ("a@b", "a@b (Name)").
        if "@" in name:
            parts = name.split()
            if len(parts) != 1:
                return None  # "Na.me w@x.org" is no one address
            return _mailbox(bare, parts[0], "")  # "a@b (Name)": the comment names it
        return None
    if ":" in spec:  # obsolete source route "<@relay:user@host>"
        spec = spec.rsplit(":", 1)[1]
    spec = spec.strip()
    if not _ADDR_SPEC.fullmatch(spec):
        return None
    return Mailbox(" ".join(name.split()), spec, bare)


def _check_names(mailboxes: list[Mailbox]) -> None:
    """An address written in a name (quoted or in a comment) is one a lesser parser could
    take for the recipient. Encoded words are left as they are: no parser reads an address
    out of one, and the composer never writes a name holding an address back."""
    specs = {m.addr.lower() for m in mailboxes}
    for m in mailboxes:
        text = f"{m.name} {m.comment}"
        if "@" not in text:
            continue
        for found in _ADDRESS_LIKE.findall(text):
            if found.strip(".").lower() not in specs:
                raise _Ambiguous("an address appears only inside a display name")


def _mailboxes(value: str) -> list[tuple[str, str | None, str]]:
    """(display name, text inside <> or None, comment text) per mailbox of one value."""
    out: list[tuple[str, str | None, str]] = []
    name: list[str] = []
    comments: list[str] = []
    spec: str | None = None
    after_spec = False
    bare_at = False  # an "@" outside quotes and comments before the angle brackets
    in_group = False
    i, n = 0, len(value)

    def close() -> None:
        nonlocal name, comments, spec, after_spec, bare_at
        text = "".join(name).strip()
        if text or spec is not None:
            out.append((text, spec, " ".join(comments).strip()))
        name, comments, spec, after_spec, bare_at = [], [], None, False, False

    while i < n:
        c = value[i]
        if c == '"':
            end = _quoted_end(value, i)
            if after_spec:
                raise _Ambiguous("text after an address")
            name.append(re.sub(r"\\(.)", r"\1", value[i + 1 : end]))
            i = end + 1
            continue
        if c == "(":
            end = _comment_end(value, i)
            comments.append(value[i + 1 : end])
            name.append(" ")
            i = end + 1
            continue
        if c == "<":
            end = value.find(">", i)
            if end < 0 or "<" in value[i + 1 : end]:
                raise _Ambiguous("unbalanced angle brackets")
            if spec is not None:
                raise _Ambiguous("two addresses in one mailbox")
            if bare_at:
                raise _Ambiguous("an address outside the angle brackets")
            spec = value[i + 1 : end]
            after_spec = True
            i = end + 1
            continue
        if c == ">":
            raise _Ambiguous("unbalanced angle brackets")
        if c == ",":
            close()
        elif c == ":" and spec is None:
            if in_group or bare_at:
                raise _Ambiguous("a stray colon")
            in_group = True  # "undisclosed-recipients:" — the group's name is no mailbox
            name, comments = [], []
        elif c == ";" and in_group:
            close()
            in_group = False
        elif after_spec:
            if not c.isspace():
                raise _Ambiguous("text after an address")
        else:
            bare_at = bare_at or c == "@"
            name.append(c)
        i += 1
    close()
    return out


def _quoted_end(value: str, start: int) -> int:
    i = start + 1
    while i < len(value):
        if value[i] == "\\":
            i += 2
            continue
        if value[i] == '"':
            return i
        i += 1
    raise _Ambiguous("an unclosed quote")


def _comment_end(value: str, start: int) -> int:
    depth, i = 0, start
    while i < len(value):
        c = value[i]
        if c == "\\":
            i += 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise _Ambiguous("an unclosed comment")
