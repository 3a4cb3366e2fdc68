# ruff: noqa: E501  (sample data reads best one message per line)
"""The sample mailbox: one week of a consultant's outreach, in Chinese and English.

Written as real RFC 5322 messages into a Maildir++ tree, the layout mutt,
mbsync and Dovecot use, so the demo runs the same connector a user would.
"""

from __future__ import annotations

import mailbox
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")
ME = ("李雷", "li.lei@hunter.example")
MONDAY = datetime(2026, 11, 2, tzinfo=SH)  # an ordinary week: no holidays


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute)


@dataclass(frozen=True)
class Mail:
    folder: str  # "" for INBOX, else Sent / Drafts
    sender: tuple[str, str]
    to: tuple[str, str]
    subject: str
    body: str
    when: datetime
    msgid: str
    in_reply_to: str | None = None
    extra: tuple[tuple[str, str], ...] = ()
    tags: str = ""


def build(mail: Mail) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"{mail.sender[0]} <{mail.sender[1]}>" if mail.sender[0] else mail.sender[1]
    msg["To"] = f"{mail.to[0]} <{mail.to[1]}>" if mail.to[0] else mail.to[1]
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(mail.when)
    msg["Message-ID"] = f"<{mail.msgid}>"
    if mail.in_reply_to:
        msg["In-Reply-To"] = f"<{mail.in_reply_to}>"
        msg["References"] = f"<{mail.in_reply_to}>"
    for name, value in mail.extra:
        msg[name] = value
    if mail.tags:
        msg["X-Ghostwatch-Tags"] = mail.tags
    msg.set_content(mail.body)
    return msg


def deliver(root: Path, mail: Mail) -> None:
    box = mailbox.Maildir(root, create=True)
    folder = box if not mail.folder else _folder(box, mail.folder)
    message = mailbox.MaildirMessage(build(mail))
    message.set_subdir("cur")
    message.set_flags("S")
    message.set_date(mail.when.timestamp())
    folder.add(message)


def _folder(box: mailbox.Maildir, name: str) -> mailbox.Maildir:
    if name not in box.list_folders():
        return box.add_folder(name)
    return box.get_folder(name)


def create(root: Path) -> None:
    box = mailbox.Maildir(root, create=True)
    for name in ("Sent", "Drafts", "Trash"):
        _folder(box, name)


WANG = ("王芳", "wang.fang@candidate.example")
EMMA = ("Emma Clarke", "emma.clarke@mail.example")
MICHAEL = ("Michael Chen", "michael.chen@fintech.example")
ZHANG = ("张伟", "zhang.wei@corp.example")
LIU = ("刘洋", "liu.yang@old-company.example")
HR = ("陈静", "chen.jing@client.example")

OUTREACH = [
    Mail("Sent", ME, WANG, "某头部短视频公司｜高级Go工程师机会", "王芳您好，...（职位介绍）", at(0, 9, 30), "o1@hunter.example",
         tags="gw:role:tech gw:source:linkedin"),
    Mail("Sent", ME, EMMA, "Staff engineer, payments platform", "Hi Emma, ... (the role)", at(0, 10, 15), "o2@hunter.example",
         tags="gw:role:tech gw:source:referral"),
    Mail("Sent", ME, MICHAEL, "CTO search - fintech scale-up", "Dear Michael, ... (the mandate)", at(0, 10, 45), "o7@hunter.example",
         tags="gw:role:exec gw:source:referral"),
    Mail("Sent", ME, ZHANG, "Offer 确认：数据平台负责人", "张伟您好，offer 细节如下……", at(0, 11, 0), "o3@hunter.example"),
    Mail("Sent", ME, LIU, "产品总监职位交流", "刘洋您好，……", at(0, 14, 0), "o4@hunter.example"),
    Mail("Sent", ME, HR, "候选人短名单 - 数据平台负责人", "陈总您好，附上本周短名单……", at(0, 15, 30), "o5@hunter.example",
         tags="gw:kind:client"),
    Mail("Sent", ME, ("王总", "boss@hunter.example"), "本周进展汇报", "王总，本周……", at(0, 17, 0), "o6@hunter.example"),
]  # fmt: skip

INBOUND_DAY0 = [
    Mail("", ("LinkedIn", "news@linkedin.example"), ME, "本周职场动态", "...", at(0, 12, 0), "n1@linkedin.example",
         extra=(("List-Unsubscribe", "<https://linkedin.example/unsub>"), ("Precedence", "bulk"))),
    Mail("", ZHANG, ME, "自动回复: Offer 确认：数据平台负责人",
         "您好，我正在休假，将于2026年11月9日回到办公室，期间邮件回复可能延迟。", at(0, 11, 1), "ooo1@corp.example",
         in_reply_to="o3@hunter.example", extra=(("Auto-Submitted", "auto-replied"),)),
]  # fmt: skip


def bounce_for_liu() -> Mail:
    body = (
        "This is the mail system at host mx.hunter.example.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients.\n\n"
        "<liu.yang@old-company.example>: host mx.old-company.example said: 550 5.1.1\n"
        "    <liu.yang@old-company.example>: Recipient address rejected: User unknown\n"
    )
    return Mail(
        "", ("Mail Delivery System", "MAILER-DAEMON@hunter.example"), ME,
        "Undelivered Mail Returned to Sender", body, at(0, 14, 1), "dsn1@hunter.example",
        extra=(("Auto-Submitted", "auto-replied"), ("X-Failed-Recipients", LIU[1])),
    )  # fmt: skip


EMMA_REPLY = Mail(
    "", EMMA, ME, "Re: Staff engineer, payments platform",
    "Hi Li Lei, thanks for reaching out - happy to talk on Thursday.", at(1, 15, 20), "r1@mail.example",
    in_reply_to="o2@hunter.example",
)  # fmt: skip
