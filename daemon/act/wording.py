"""The wording put into drafts: values cleaned to plain text a consultant can
trust (no control or bidi characters, no stray line breaks), and the opening
salutation built from the contact's name in the template's language.
"""

from __future__ import annotations

import re
import unicodedata

# C0/C1 controls except \t and \n, line/paragraph separators, and bidi
# overrides/isolates: a display name with U+202E could make the draft show text
# in a different order than the consultant reads when approving it.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_LINE_BREAKS = re.compile(r"\s*[\n\t]+\s*")
_BLANK_RUN = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)


def clean(text: str) -> str:
    return _CONTROL.sub("", text)


def clean_line(text: str) -> str:
    """One line: values from mail headers must not be able to add paragraphs to a draft."""
    return " ".join(_LINE_BREAKS.sub(" ", clean(text)).split())


def finish(text: str) -> str:
    """Tidy plain text: one blank line at most between paragraphs, one final newline."""
    text = clean(text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _TRAILING_SPACE.sub("", text)
    text = _BLANK_RUN.sub("\n\n", text).strip("\n")
    return text + "\n" if text else ""


# ---------------------------------------------------------------------------
# Salutation
# ---------------------------------------------------------------------------

_BRACKETED = re.compile(r"\s*(\([^)]*\)|（[^）]*）|\[[^\]]*\]|【[^】]*】)\s*")
_QUOTES = "\"'“”‘’「」"
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof"})
_MAX_NAME_WORDS = 5
_MAX_NAME_CHARS = 64
# Letters and combining marks, with the punctuation names carry ("O'Brien", "Jean-Luc",
# "Dr.", "Smith, Jane", "阿卜杜拉·阿齐兹"); str.isalpha is True for letters and CJK.
_NAME_WORD = re.compile(r"(?:[^\W\d_]|[\u0300-\u036f'’.\-·・,，])+")


def _has_letter(text: str) -> bool:
    return any(unicodedata.category(c).startswith("L") for c in text)


def _is_cjk(text: str) -> bool:
    return any(unicodedata.east_asian_width(c) in "WF" for c in text)


def _usable_name(name: str | None) -> str:
    """The display name worth greeting, or '' when it is an address or junk."""
    cleaned = clean_line(name or "")
    # "Wang Fang (HR)", "Fang [External]": the bracketed part is a label, not the name.
    cleaned = _BRACKETED.sub(" ", cleaned).strip().strip(_QUOTES).strip()
    if not cleaned or "@" in cleaned or not _has_letter(cleaned):
        return ""
    words = cleaned.split()
    # A name is a few words of letters: "{% for x %}", "Carl Bcc: x" or a pasted
    # paragraph in the display name get the neutral greeting instead of a fragment.
    if len(words) > _MAX_NAME_WORDS or len(cleaned) > _MAX_NAME_CHARS:
        return ""
    if not all(_NAME_WORD.fullmatch(w) and _has_letter(w) for w in words):
        return ""
    return " ".join(words)


def _given_name(name: str) -> str:
    """The part of a Latin-script name that goes after "Hi"."""
    if "," in name:
        # Directory style "Smith, Jane".
        after = name.split(",", 1)[1].strip()
        if _has_letter(after):
            name = after
    parts = name.split()
    if len(parts) == 1:
        return parts[0]
    if parts[0].rstrip(".").lower() in _TITLES:
        return f"{parts[0]} {parts[-1]}"  # "Dr. Smith", never "Hi Dr.,"
    # "WANG Fang": the capitalised word is the family name, greet by the other one.
    shouting = [p for p in parts if p.isupper() and len(p) > 1]
    if len(shouting) == 1 and len(parts) == 2:
        return next(p for p in parts if p is not shouting[0])
    return parts[0]


def salutation(name: str | None, locale: str, others: tuple[str, ...] = ()) -> str:
    """The greeting line: zh-* "王芳，您好" / "您好"; other locales "Hi Fang," / "Hello,".
    With `others` (a draft to several people): "王芳、李明，您好", "Hi Carl and Dana,",
    and "各位好" / "Hello all," when a name is missing.

    Chinese keeps the whole name (family name included, as is polite); a
    CJK-script name in an English draft is kept whole too, since "given name
    first" cannot be assumed for it.
    """
    if others:
        return _group_salutation((name, *others), locale)
    usable = _usable_name(name)
    if locale.lower().startswith("zh"):
        return f"{usable}，您好" if usable else "您好"
    if not usable:
        return "Hello,"
    if _is_cjk(usable):
        return f"Hi {usable.replace(' ', '')},"
    return f"Hi {_given_name(usable)},"


def _group_salutation(names: tuple[str | None, ...], locale: str) -> str:
    usable = [_usable_name(n) for n in names]
    zh = locale.lower().startswith("zh")
    if not all(usable):
        return "各位好" if zh else "Hello all,"
    if zh:
        return f"{'、'.join(usable)}，您好"
    greeted = [n.replace(" ", "") if _is_cjk(n) else _given_name(n) for n in usable]
    return f"Hi {', '.join(greeted[:-1])} and {greeted[-1]},"
