"""Which language a thread's drafts are written in. Pure: no I/O, no database.

The precedence (SPEC §5): a `gw:lang:<locale>` tag on the thread, a rule's
`set = { locale = ... }`, the language of the consultant's own outreach in the
thread, the account's `locale`.

Detection is deliberately small: it only has to tell a Chinese outreach from an
English one (the two shipped template sets) and to say "don't know" for
anything else, so that a German or French mail falls back to the account's
locale instead of being answered in English. Japanese and Korean are told
apart by their own scripts, for consultants who add those templates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Detected codes, stored per outbound message; "" means looked at, nothing recognised.
CHINESE, ENGLISH, JAPANESE, KOREAN, UNKNOWN = "zh", "en", "ja", "ko", ""
MAX_TEXT = 4000  # characters read: the opening of a mail says its language

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# Where the consultant's own text ends and a quoted earlier message begins.
_QUOTE_START = re.compile(
    r"^(?:-{2,}\s*(?:original message|forwarded message|原始邮件|转发邮件)"
    r"|on .{0,200} wrote:\s*$|在.{0,200}写道[:：]?\s*$|发件人[:：]|from:\s)",
    re.I | re.M,
)
# Frequent English words that are rare in other Latin-script languages' mail.
_ENGLISH_WORDS = frozenset(
    [
        "the",
        "and",
        "to",
        "you",
        "your",
        "for",
        "of",
        "is",
        "are",
        "be",
        "with",
        "this",
        "that",
        "have",
        "we",
        "our",
        "it",
        "in",
        "on",
        "hi",
        "hello",
        "dear",
        "thanks",
        "thank",
        "regards",
        "best",
        "would",
        "could",
        "will",
        "let",
        "me",
        "know",
        "about",
        "role",
        "position",
        "opportunity",
        "hope",
        "am",
        "looking",
    ]
)


def detect(subject: str, text: str) -> str:
    """The language of an outreach from its subject and text part: a code above."""
    body = text[: MAX_TEXT * 2]
    cut = _QUOTE_START.search(body)
    if cut is not None:
        body = body[: cut.start()]
    own = "\n".join(line for line in body.splitlines() if not line.lstrip().startswith(">"))
    sample = f"{subject}\n{own}"[:MAX_TEXT]
    han = len(_HAN.findall(sample))
    kana = len(_KANA.findall(sample))
    hangul = len(_HANGUL.findall(sample))
    words = [w.lower() for w in _LATIN_WORD.findall(sample)]
    # A Chinese character carries about as much as two English words: a Chinese mail
    # naming "Senior Go Engineer" stays Chinese, and an English one signed 李雷 stays English.
    if kana >= 2 and kana * 4 >= han:
        return JAPANESE
    if hangul >= 2 and hangul * 2 >= len(words):
        return KOREAN
    if han >= 2 and han * 2 >= len(words):
        return CHINESE
    english = sum(1 for w in words if w in _ENGLISH_WORDS)
    if english >= 1 and english * 20 >= len(words):
        return ENGLISH
    return UNKNOWN


@dataclass(frozen=True, slots=True)
class LocaleChoice:
    """The draft locale of one thread and why, for the outbox and for `explain`."""

    locale: str
    why: str  # e.g. "from your outreach"
    notes: tuple[str, ...] = ()  # what was tried and passed over

    def describe(self) -> str:
        return f"{self.locale} ({self.why})"


def match_locale(wanted: str, available: Sequence[str]) -> str | None:
    """The available locale spelt like `wanted` (case, "_" for "-"), else None."""
    norm = wanted.strip().replace("_", "-").lower()
    for locale in available:
        if locale.lower() == norm:
            return locale
    return None


def locale_for_code(code: str, account_locale: str, available: Sequence[str]) -> str | None:
    """A template locale for a detected language code: the account's own when it is
    that language (zh-TW stays zh-TW), else the first available one of it."""
    if not code:
        return None
    if account_locale.lower().split("-")[0] == code:
        return account_locale
    preferred = {CHINESE: "zh-CN", ENGLISH: "en"}.get(code)
    if preferred is not None and (found := match_locale(preferred, available)):
        return found
    for locale in available:
        if locale.lower().split("-")[0] == code:
            return locale
    return None


_NAMES = {CHINESE: "Chinese", ENGLISH: "English", JAPANESE: "Japanese", KOREAN: "Korean"}


def choose_locale(
    *,
    tag: str | None,
    rule_locale: str | None,
    rule_label: str,
    detected: str | None,
    account_locale: str,
    available: Sequence[str],
) -> LocaleChoice:
    """Apply the precedence. `detected` is None when the outreach was not read yet,
    "" when it was read and its language not recognised."""
    notes: list[str] = []
    if tag:
        found = match_locale(tag, available)
        if found is not None:
            return LocaleChoice(found, f"from tag gw:lang:{tag}")
        notes.append(f"tag gw:lang:{tag} ignored: no templates (available: {', '.join(available)})")
    if rule_locale:
        found = match_locale(rule_locale, available)
        if found is not None:
            return LocaleChoice(found, f"from {rule_label}", tuple(notes))
        notes.append(f"{rule_label}: locale {rule_locale!r} has no templates")
    if detected:
        found = locale_for_code(detected, account_locale, available)
        if found is not None:
            return LocaleChoice(found, "from your outreach", tuple(notes))
        name = _NAMES.get(detected, detected)
        notes.append(f"your outreach is in {name}, which has no templates")
    elif detected == UNKNOWN:
        notes.append("the language of your outreach was not recognised")
    else:
        notes.append("your outreach has not been read yet")
    return LocaleChoice(account_locale, "the account's locale", tuple(notes))
