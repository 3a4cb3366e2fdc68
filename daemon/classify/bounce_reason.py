"""Why a delivery failed, in sisimai's vocabulary, and what that means for the address.

The reason comes from the failing recipient's status code (RFC 3463), its SMTP reply
text and the MTA's own wording, in the order sisimai tries them: phrase probes that
may override the status (a 5.1.1 that says "mailbox full"), then the status code's
registered meaning, then the wider phrase lists, then the status class. The status
table, the probe orders and the phrase lists are derived from sisimai (go-sisimai
reason/*.go and smtp/status/lib.go, p5-sisimai lib/Sisimai/Reason/*.pm), BSD 2-Clause
License, Copyright (C) azumakuniyuki and the sisimai development team.

What a reason means for a consultant is its family:
- gone: the address itself is dead (userunknown, hostunknown, hasmoved, notaccept 5.x);
- rejected: the server refused this message, the person is still there (spam, policy,
  blocked sender, content, security);
- mailbox: the mailbox exists but cannot take mail now (full, suspended);
- temporary: a delay or a fault on the way (expired, network, system errors).
"""

from __future__ import annotations

import re

from daemon.classify.bounce_phrases_address import PHRASES as _ADDRESS
from daemon.classify.bounce_phrases_rejection import NOT_REJECTED
from daemon.classify.bounce_phrases_rejection import PHRASES as _REJECTION

# Wording of MTAs whose notices carry no status code nor SMTP transcript (sisimai reads
# them in its per-MTA modules): decisive, checked before everything else.
_MTA_WORDING: dict[str, tuple[str, ...]] = {
    "userunknown": (
        "not listed in domino directory",
        "not listed in public name & address book",
        "invalid final delivery userid",
        "no valid recipients for this mm",
        "because the address couldn't be found",
        "please check if address is correct",
        "and other recipients in the same domain",  # InterScan MSS
        "the recipient name is not recognized",  # Exchange 2003
        "delivery error: dd this user doesn't have a",  # Yahoo
        "destinataire invalide. invalid recipient",  # Orange
    ),
    "hostunknown": ("dns lookup failure: host",),  # DragonFly
    "mailboxfull": ("mailbox exceeds allowed size",),
    "notaccept": ("an mx or srv record indicated no smtp service",),
    # Google Groups refusing a post: no such group, or no permission to post to it.
    "rejected": ("groups.google.com/support",),
}
_PHRASES = {**_ADDRESS, **_REJECTION}

GONE = frozenset({"userunknown", "hostunknown", "hasmoved", "notaccept"})
REJECTED = frozenset(
    {
        "blocked", "spamdetected", "filtered", "policyviolation", "securityerror", "rejected",
        "badreputation", "requireptr", "authfailure", "notcompliantrfc", "contenterror",
        "virusdetected", "norelaying", "failedstarttls", "mesgtoobig", "exceedlimit",
        "suppressed",
    }
)  # fmt: skip
MAILBOX = frozenset({"mailboxfull", "suspend"})
FAMILIES = ("gone", "rejected", "mailbox", "temporary")

# RFC 3463 status -> reason (sisimai smtp/status Name()); 4.x.0 and 5.x.0 of the
# vaguer classes are left out there too, so the text decides.
# fmt: off
STATUS_REASON: dict[str, str] = {
    "4.1.6": "hasmoved", "4.1.7": "rejected", "4.1.8": "rejected", "4.1.9": "systemerror",
    "4.2.1": "blocked", "4.2.2": "mailboxfull", "4.2.3": "exceedlimit", "4.2.4": "filtered",
    "4.3.1": "systemfull", "4.3.2": "notaccept", "4.3.3": "systemerror", "4.3.5":
    "systemerror", "4.4.1": "expired", "4.4.2": "networkerror", "4.4.3": "systemerror",
    "4.4.4": "networkerror", "4.4.5": "systemfull", "4.4.6": "networkerror", "4.4.7":
    "expired", "4.4.8": "networkerror", "4.5.3": "systemerror", "4.5.5": "systemerror",
    "4.6.0": "contenterror", "4.6.2": "contenterror", "4.6.5": "contenterror", "4.7.1":
    "blocked", "4.7.2": "blocked", "4.7.5": "securityerror", "4.7.6": "securityerror", "4.7.7":
    "securityerror", "4.7.12": "securityerror", "4.7.15": "securityerror", "4.7.16":
    "mesgtoobig", "4.7.24": "authfailure", "4.7.25": "requireptr", "4.7.26": "authfailure",
    "5.1.0": "userunknown", "5.1.1": "userunknown", "5.1.2": "hostunknown", "5.1.3":
    "userunknown", "5.1.4": "filtered", "5.1.6": "hasmoved", "5.1.7": "rejected", "5.1.8":
    "rejected", "5.1.9": "systemerror", "5.1.10": "notaccept", "5.2.0": "filtered", "5.2.1":
    "filtered", "5.2.2": "mailboxfull", "5.2.3": "exceedlimit", "5.2.4": "filtered", "5.3.0":
    "systemerror", "5.3.1": "systemfull", "5.3.2": "notaccept", "5.3.3": "systemerror",
    "5.3.4": "mesgtoobig", "5.3.5": "systemerror", "5.4.0": "networkerror", "5.4.3":
    "systemerror", "5.4.4": "hostunknown", "5.5.2": "syntaxerror", "5.5.3": "toomanyconn",
    "5.5.4": "systemerror", "5.5.5": "systemerror", "5.5.6": "syntaxerror", "5.6.0":
    "contenterror", "5.6.1": "contenterror", "5.6.2": "contenterror", "5.6.3": "contenterror",
    "5.6.5": "contenterror", "5.6.6": "contenterror", "5.6.7": "contenterror", "5.6.8":
    "contenterror", "5.6.9": "contenterror", "5.7.0": "securityerror", "5.7.1":
    "securityerror", "5.7.2": "securityerror", "5.7.3": "securityerror", "5.7.4":
    "securityerror", "5.7.5": "securityerror", "5.7.6": "securityerror", "5.7.7":
    "securityerror", "5.7.8": "securityerror", "5.7.9": "securityerror", "5.7.10":
    "securityerror", "5.7.11": "securityerror", "5.7.13": "suspend", "5.7.14": "securityerror",
    "5.7.15": "securityerror", "5.7.16": "mesgtoobig", "5.7.17": "hasmoved", "5.7.18":
    "hasmoved", "5.7.19": "securityerror", "5.7.20": "authfailure", "5.7.21": "authfailure",
    "5.7.22": "authfailure", "5.7.23": "authfailure", "5.7.24": "authfailure", "5.7.25":
    "requireptr", "5.7.26": "authfailure", "5.7.27": "notaccept", "5.7.28": "spamdetected",
    "5.7.29": "authfailure", "5.7.30": "failedstarttls",}
# fmt: on

# Reasons a status code only suggests: the phrases are consulted again (sisimai "Retry").
_RETRY = frozenset(
    {"undefined", "onhold", "systemerror", "securityerror", "expired", "networkerror",
     "hostunknown", "userunknown"}
)  # fmt: skip
# sisimai's first pass: probes that may overrule the status code's own meaning.
_FIRST = (
    "mailboxfull", "mesgtoobig", "exceedlimit", "suspend", "hasmoved", "norelaying",
    "authfailure", "userunknown", "filtered", "requireptr", "notcompliantrfc",
    "badreputation", "contenterror", "rejected", "hostunknown", "spamdetected", "speeding",
    "toomanyconn", "blocked",
)  # fmt: skip
# The second pass, only when the status code settles nothing.
_SECOND = (
    "mailboxfull", "authfailure", "badreputation", "speeding", "spamdetected",
    "virusdetected", "policyviolation", "norelaying", "systemerror", "networkerror",
    "suspend", "contenterror", "systemfull", "notaccept", "expired", "failedstarttls",
    "securityerror", "mailererror",
)  # fmt: skip
_USERUNKNOWN_BUT = ("norelaying", "blocked", "mailboxfull", "hasmoved", "rejected", "notaccept")
# An RFC 3463 status (2.x.x success too) and an SMTP failure reply code, in free text.
STATUS_CODE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
REPLY_CODE = re.compile(r"(?<![\d.])([45][0-5]\d)(?=[ -]|$)", re.M)
_SPACES = re.compile(r"\s+")
_COMMAND = re.compile(
    r"(?:in reply to|after|>>>|smtp:|most progress was)\s*"
    r"(rcpt|mail from|end of data|data|helo|ehlo|connect)",
    re.I,
)
_EARLY = frozenset({"CONN", "EHLO", "HELO", "MAIL", "RCPT"})


def says(reason: str, text: str) -> bool:
    """Whether lower-case `text` uses one of sisimai's phrases for `reason`."""
    words, pairs = _PHRASES.get(reason, ((), ()))
    if reason == "rejected" and any(n in text for n in NOT_REJECTED):
        return False
    return any(w in text for w in words) or any(_aligned(text, p) for p in pairs)


def _aligned(text: str, parts: tuple[str, ...]) -> bool:
    at = 0
    for part in parts:
        found = text.find(part, at)
        if found < 0:
            return False
        at = found + len(part)
    return True


def reason_of(status: str, text: str, action: str = "", command: str = "") -> str:
    """The reason for one failed recipient: status "5.1.1", diagnostic text, DSN Action.

    `command` is the SMTP command the server refused (RCPT, DATA, ...), when known:
    like sisimai, "user unknown" is only a dead address under a 5.1.x status or when
    refused at RCPT TO; otherwise it is taken for a content filter's answer.
    """
    text = _SPACES.sub(" ", text).lower()
    quoted = status_in(text)
    # A report's "5.0.0" says less than the server's own "5.7.26" in the text (sisimai prefers it).
    if not status or (status[2:] == "0.0" and quoted[:1] == status[:1] and quoted[2:] != "0.0"):
        status = quoted or status
    command = command or command_in(text)
    named = STATUS_REASON.get(status, "")
    found = next((r for r, words in _MTA_WORDING.items() if any(w in text for w in words)), "")
    found = found or _first_pass(named, text, command, status)
    if found:
        return found
    if not named or named in _RETRY:
        found = next((r for r in _SECOND if says(r, text)), "")
        if found:
            return found
    if named:
        return named
    if action in ("delayed", "delay", "expired"):
        return "expired"
    klass = status[:3]
    if klass in ("5.6", "4.6"):
        return "contenterror"
    if klass in ("5.7", "4.7"):
        return "securityerror"
    return "onhold" if text.strip() else "undefined"


def command_in(text: str) -> str:
    """The SMTP command a transcript or MTA notice says was refused, "" when none."""
    match = _COMMAND.search(text)
    if not match:
        return ""
    word = match.group(1).upper()
    return "DATA" if word.startswith(("END", "DATA")) else word.split()[0][:4]


def _first_pass(named: str, text: str, command: str, status: str) -> str:
    early = command in _EARLY
    for reason in _FIRST:
        if reason == "userunknown":
            if named == "userunknown":
                if not any(says(r, text) for r in _USERUNKNOWN_BUT):
                    return reason
            elif (command == "RCPT" or status[1:4] == ".1.") and says(reason, text):
                return reason
        elif reason == "filtered":
            if named == "suspend" or (named != "filtered" and early):
                continue
            if says("filtered", text) or says("userunknown", text):
                return reason
        elif reason == "spamdetected":
            if named == reason or (not early and says(reason, text)):
                return reason
        elif reason == "rejected":
            if named == "rejected" or (
                named in ("", "securityerror", "systemerror", "onhold", "undefined")
                and says(reason, text)
            ):
                return reason
        elif reason == "hostunknown":
            if named == reason and not says("networkerror", text):
                return reason
            if named != reason and says(reason, text):
                return reason
        elif (
            named == reason
            or says(reason, text)
            or (reason == "suspend" and _reply_code(text) == "525")
        ):
            return reason
    return ""


def status_in(text: str) -> str:
    """The first failure status (4.x.x / 5.x.x) in `text`, "" when none."""
    found = (".".join(m.groups()) for m in STATUS_CODE.finditer(text) if m.group(1) != "2")
    return next(found, "")


def _reply_code(text: str) -> str:
    match = REPLY_CODE.search(text)
    return match.group(1) if match else ""


def is_hard(reason: str, status: str = "", text: str = "") -> bool:
    """The address itself is gone: no point writing to it again (sisimai's hard bounce)."""
    if reason in ("userunknown", "hostunknown", "hasmoved"):
        return True
    if reason != "notaccept":
        return False
    # A null MX or "does not accept mail" is permanent unless the server said 4xx.
    code = status or status_in(text) or _reply_code(text)
    return not code.startswith("4") and " temporar" not in text.lower()


def family(reason: str, status: str = "", text: str = "") -> str:
    """gone | rejected | mailbox | temporary (see the module notes)."""
    if reason in GONE:
        return "gone" if reason != "notaccept" or is_hard(reason, status, text) else "temporary"
    if reason in REJECTED:
        return "rejected"
    if reason in MAILBOX:
        return "mailbox"
    return "temporary"
