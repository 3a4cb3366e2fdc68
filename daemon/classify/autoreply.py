"""Automatic replies: vacation / out-of-office responders and challenge/response.

Header evidence decides (RFC 3834 Auto-Submitted, the de-facto X-Autoreply /
X-Autorespond / Precedence: auto_reply, Microsoft, QQ Mail and iCloud
markers); the subject only breaks ties, and body wording is only read when the
headers already hint at an automatic sender (null Return-Path, Precedence
bulk/junk without list headers).
"""

from __future__ import annotations

import re

from daemon.classify.message import MailView

# Subject prefixes responders put in front of the original subject, or the
# whole subject they use, in the languages consultants meet most.
_SUBJECT = re.compile(
    r"^\s*(\[\s*)?("
    r"auto(matic|matische|matisch|mated)?[ -]?(reply|response|answer|antwort|respons|svar)|"
    r"auto[ -]?(reply|re|response)|autoreply|autoresponse|auto:|"
    r"out of (the )?office|ooo:|away from (my |the )?(mail|office)|"
    r"vacation (alert|reply|notice|message|response)|"
    r"abwesenheitsnotiz|abwesenheit:|nicht im büro|automatische antwort|"
    r"réponse automatique|reponse automatique|absent du bureau|"
    r"respuesta automática|respuesta automatica|fuera de (la )?oficina|"
    r"risposta automatica|resposta automática|"
    r"automatyczna odpowied|automatische? (beantwoording|antwoord)|"
    r"automatiskt svar|automatisk (svar|besked)|"
    r"automātiska atbilde|automatiska atbilde|atvaļinājums|atvalinajums|atvaļinājumā|"
    r"автоматический ответ|автоответ|"
    r"自动回复|自動回覆|自动答复|自動答覆|自動回复|自动应答|"
    r"自動応答|自動返信|自動送信|不在のお知らせ|"
    r"자동 ?회신|자동 ?응답|부재중)",
    re.I,
)
# Tokens inside a subject that mark a responder even after "Re:" or a name.
_SUBJECT_ANYWHERE = re.compile(
    r"\((automatic|auto) (reply|response)\)|\bauto(matic)?[ -]?(reply|response)\b|"
    r"\bout of (the )?office\b|automatiska atbilde|automātiska atbilde|"
    r"自动回复|自動回覆|自动答复|自動応答|자동 ?회신",
    re.I,
)
_BODY = re.compile(
    r"out of (the )?office|away from (the |my )?(office|desk|e-?mail)|on (annual |parental |sick )?"
    r"(leave|vacation|holiday)|(limited|no) access to (my )?e-?mail|"
    r"automatic(ally generated)? (reply|response)|auto-?reply|autoresponder|"
    r"i will (be )?(back|return)|i('| a)m (currently )?(away|out)|will be back|returning on|"
    r"thank you for (your )?(e-?mail|message|mail)|"
    r"i will (endeavou?r to |try to )?(reply|respond|get back)|"
    r"(reply|respond|get back to you) as soon as (possible|i can)|"
    r"abwesend|nicht im büro|absent(e)? du bureau|fuera de la oficina|"
    r"poza biurem|urlop|nieobecn|"
    r"休假|不在办公室|外出|出差|自动回复|自動回覆|会尽快回复|返回后|回来后|"
    r"不在にしております|休暇|自動応答",
    re.I,
)
# Challenge/response systems (Boxbe, Bluebottle, EarthLink spamBlocker): the
# recipient's side answers and asks the sender to prove they are human.
_CHALLENGE = re.compile(
    r"(add(ed)? (yourself|your (e-?mail )?address) to (my|the recipient'?s?) "
    r"(guest|allowed|approved|white|safe|accepted) ?(sender)?s? ?list)|"
    r"sender not pre-?approved|has been waitlisted|was waitlisted|"
    r"this (e-?mail )?account is protected by|"
    r"(verify|confirm) (that )?you are (a )?(human|real person|not a (spammer|robot))|"
    r"spam ?blocker|challenge[- ]response|"
    r"please (click|follow) (on )?the (following )?link .{0,80}(deliver|verify|approve)",
    re.I | re.S,
)


def header_evidence(view: MailView) -> str | None:
    """The reply-marking header that decides, as a reason; None when there is none."""
    submitted = view.value("auto-submitted").lower()
    if submitted.startswith("auto-replied"):
        return f"header Auto-Submitted: {submitted[:40]}"
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        value = view.value(name).lower()
        if view.has(name) and value not in ("no", "false", "0"):
            return f"header {canonical(name)}: {value[:30] or '(present)'}"
    if precedence(view) == "auto_reply":
        return "header Precedence: auto_reply"
    holiday = view.value("x-qq-holidayreply").lower()
    if view.has("x-qq-holidayreply") and holiday not in ("no", "false", "0"):
        return f"header X-QQ-HolidayReply: {holiday[:20] or '(present)'}"
    if "vacation" in view.value("x-apple-action").lower():
        return "header X-Apple-Action: VACATION"
    if view.has("x-ms-exchange-inbox-rules-loop") and subject_marks(view.subject):
        return "header X-MS-Exchange-Inbox-Rules-Loop (mailbox rule reply)"
    return None


def weak_evidence(view: MailView) -> str | None:
    """Headers that automatic mail carries but that alone do not prove a reply."""
    suppress = view.value("x-auto-response-suppress")
    if suppress:
        return f"header X-Auto-Response-Suppress: {suppress[:30]}"
    if view.has("x-ms-exchange-inbox-rules-loop"):
        return "header X-MS-Exchange-Inbox-Rules-Loop"
    return None


def auto_generated(view: MailView) -> str | None:
    submitted = view.value("auto-submitted").lower()
    if submitted and not submitted.startswith(("no", "auto-replied")):
        return f"header Auto-Submitted: {submitted[:40]}"
    return None


def precedence(view: MailView) -> str:
    return (view.value("precedence") or view.value("x-precedence")).strip().lower()


def subject_marks(subject: str) -> str | None:
    """The responder wording in a subject, if any (prefix, or a clear token)."""
    stripped = re.sub(r"^\s*((re|aw|sv|antw|vs|回复|答复)\s*[:：]\s*)+", "", subject, flags=re.I)
    match = _SUBJECT.match(stripped) or _SUBJECT_ANYWHERE.search(subject)
    return match.group(0).strip() if match else None


def body_marks(text: str) -> str | None:
    match = _BODY.search(text[:8000])
    return match.group(0) if match else None


def challenge_marks(text: str) -> str | None:
    match = _CHALLENGE.search(text[:16000])
    return re.sub(r"\s+", " ", match.group(0))[:60] if match else None


def canonical(name: str) -> str:
    special = {
        "x-qq-holidayreply": "X-QQ-HolidayReply",
        "x-ms-exchange-inbox-rules-loop": "X-MS-Exchange-Inbox-Rules-Loop",
    }
    return special.get(name, "-".join(p.capitalize() for p in name.split("-")).replace("X-", "X-"))
