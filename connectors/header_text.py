"""Text out of header bytes: MIME charset labels to Python codecs (with the
aliases real mail needs, GBK for "gb2312"), bytes of unknown charset, RFC 2047
encoded words, and text cleaned of control characters. Nothing here raises.
"""

from __future__ import annotations

import binascii
import codecs
import quopri
import re

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_FOLD = re.compile(r"\r?\n[ \t]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_CODECS: dict[str | None, str] = {}

# Labels mail software uses that Python's codec registry spells differently or
# that are supersets in practice (a "gb2312" label usually means GBK bytes).
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "x-mac-chinesesimp": "gb18030",
    "big5": "big5hkscs",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8",
}


def codec_for(charset: str | None) -> str:
    """A Python codec name for a MIME charset label, utf-8 when unknown."""
    known = _CODECS.get(charset)
    if known is not None:
        return known
    if len(_CODECS) > 256:
        _CODECS.clear()  # labels come from mail: do not let them grow the cache forever
    _CODECS[charset] = found = _codec_for(charset)
    return found


def _codec_for(charset: str | None) -> str:
    label = (charset or "utf-8").strip().strip('"').lower()
    label = _CHARSET_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return "utf-8"


def decode_bytes(raw: bytes, charset: str | None = None) -> str:
    """Bytes of unknown provenance to text: declared charset, UTF-8, then GB18030."""
    for codec in (codec_for(charset) if charset else None, "utf-8", "gb18030"):
        if codec is None:
            continue
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


def decode_words(value: str) -> str:
    """Undo RFC 2047 encoded-words, tolerating unknown charsets and bad padding.

    Hand-written rather than email.header.decode_header, which re-encodes the
    plain text between encoded words as raw-unicode-escape ("李雷" became
    "\\u674e\\u96f7"). Adjacent words in one charset are joined before
    decoding because some encoders split a multi-byte character across two.
    """
    if "=?" not in value:
        return _unfold(value)
    whole = _ENCODED_WORD.fullmatch(value)
    if whole is not None:  # one word and nothing else, as most encoded display names
        payload = _word_bytes(whole)
        if payload is not None:
            return _unfold(decode_bytes(payload, whole.group(1).split("*", 1)[0].lower()))
    parts: list[tuple[str | None, bytes | str]] = []  # (charset, bytes) or (None, text)
    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        text, payload = value[pos : match.start()], _word_bytes(match)
        pos = match.end()
        if payload is None:  # not decodable: keep the word as it stands
            parts.append((None, text + match.group(0)))
            continue
        after_word = bool(parts) and parts[-1][0] is not None
        if text and not (after_word and text.isspace()):
            parts.append((None, text))
        charset = match.group(1).split("*", 1)[0].lower()  # RFC 2231 "utf-8*en"
        if parts and parts[-1][0] == charset:
            parts[-1] = (charset, parts[-1][1] + payload)  # type: ignore[operator]
        else:
            parts.append((charset, payload))
    parts.append((None, value[pos:]))
    out = [decode_bytes(p, c) if isinstance(p, bytes) else p for c, p in parts]
    return _unfold("".join(out))


def _word_bytes(match: re.Match[str]) -> bytes | None:
    encoding, text = match.group(2).lower(), match.group(3)
    try:
        if encoding == "b":
            return binascii.a2b_base64(text + "=" * (-len(text) % 4))
        return quopri.decodestring(text.replace("_", " ").encode("ascii"), header=False)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def _unfold(value: str) -> str:
    if "\n" not in value:
        return value.strip()
    return _FOLD.sub(" ", value).strip()


def clean_text(value: str) -> str:
    """Text safe to show and to reuse in a header: no control characters."""
    return _CONTROL.sub(" ", value).strip()
