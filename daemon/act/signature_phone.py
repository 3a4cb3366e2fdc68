"""The contact's phone number, from the signature of their own mail.

The step-2 reminder says "call X", so it should carry X's number. Numbers are
found with `phonenumbers` (Google's libphonenumber data) in the part of the
body the contact wrote themselves: quoted history ("> ...", "在 ... 写道：",
"-----Original Message-----", "On ... wrote:") is cut off first, so we never
pick up the consultant's own number from the quote. A mobile number wins over
a landline; the result is E.164 (+8613800138000).
"""

from __future__ import annotations

import re

import phonenumbers

_QUOTE_STARTS = re.compile(
    r"^(-{2,}\s*(original message|原始邮件|forwarded message)|"
    r"on .{4,200} wrote:|在.{2,200}写道[:：]|"
    r"(from|发件人)[:：].+)",
    re.IGNORECASE,
)
MAX_TEXT = 20_000


def own_text(body: str) -> str:
    """The body without quoted history: what the sender wrote in this message."""
    lines = []
    for line in body[:MAX_TEXT].splitlines():
        stripped = line.strip()
        if _QUOTE_STARTS.match(stripped):
            break
        if stripped.startswith(">"):
            continue
        lines.append(line)
    return "\n".join(lines)


def phone_from_body(body: str, region: str = "CN") -> str | None:
    """The best phone number in the sender's own text, as E.164, or None."""
    text = own_text(body)
    best: tuple[int, str] | None = None
    for match in phonenumbers.PhoneNumberMatcher(
        text, region, leniency=phonenumbers.Leniency.VALID
    ):
        number = match.number
        kind = phonenumbers.number_type(number)
        mobile = kind in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        )
        # Later numbers sit lower in the text, closer to the signature.
        rank = (2 if mobile else 1) * 100_000 + match.start
        formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if best is None or rank > best[0]:
            best = (rank, formatted)
    return best[1] if best else None
