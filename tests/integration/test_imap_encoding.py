"""Real-world header mess through a real server: Chinese charsets, raw 8-bit
headers, megabyte headers and garbage must come out decoded or as a reasoned
Skipped, never as an exception that loses the batch."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.imap import Settings, open_mailbox
from connectors.model import MailMessage, Skipped
from tests.contract.mail_source_suite import b_word, by_id, make_raw, messages, scan
from tests.servers.dovecot import MailUser

pytestmark = pytest.mark.dovecot


@pytest.mark.parametrize(
    ("charset", "subject", "name"),
    [
        ("gbk", "高级工程师职位", "王芳"),
        ("gb2312", "面试安排", "李雷"),
        ("gb18030", "𠮷野家 offer 确认", "𠮷田"),
        ("big5", "面試時間確認", "陳大文"),
        ("utf-8", "薪资谈判 – 第二轮", "韩梅梅"),
    ],
)
def test_rfc2047_words_are_decoded(
    mail_user: MailUser,
    make_settings: Callable[..., Settings],
    charset: str,
    subject: str,
    name: str,
) -> None:
    raw = make_raw(
        "cjk@example.org",
        subject=b_word(subject, charset),
        sender=f"{b_word(name, charset)} <sender@example.org>",
    )
    mail_user.append("INBOX", raw)
    with open_mailbox(make_settings(mail_user)) as source:
        msg = by_id(scan(source, None)[0])["cjk@example.org"]
    assert msg.subject == subject
    assert msg.sender is not None and msg.sender.name == name


def test_raw_8bit_gbk_and_broken_words(
    mail_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    raw_gbk = (
        "From: 王芳 <wang@example.cn>\r\nSubject: 关于职位的回复\r\n"
        "Message-ID: <raw@example.cn>\r\nDate: Mon, 6 May 2024 09:30:00 +0800\r\n\r\nhi\r\n"
    ).encode("gbk")
    mail_user.append("INBOX", raw_gbk)
    mail_user.append(
        "INBOX", make_raw("broken@example.org", subject="=?gbk?B?not-base64!?= =?utf-8?Q?ok?=")
    )
    with open_mailbox(make_settings(mail_user)) as source:
        found = by_id(scan(source, None)[0])
    assert found["raw@example.cn"].subject == "关于职位的回复"
    assert found["raw@example.cn"].sender is not None
    assert found["raw@example.cn"].sender.name == "王芳"
    assert "broken@example.org" in found  # decoded as well as possible, not dropped


def test_megabyte_headers_and_garbage_do_not_break_the_batch(
    mail_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    huge_refs = "References: " + "\r\n ".join(f"<r{i}@example.org>" for i in range(60_000))
    mail_user.append("INBOX", make_raw("good1@example.org"))
    mail_user.append("INBOX", make_raw("bigrefs@example.org", extra=[huge_refs]))
    mail_user.append("INBOX", make_raw("bigjunk@example.org", extra=["X-Junk: " + "j" * 1_100_000]))
    mail_user.append("INBOX", make_raw("bigsubj@example.org", subject="S" * 1_100_000))
    mail_user.append("INBOX", b"\x00\xff\xfe garbage without any header\r\n\r\n\x00body")
    mail_user.append("INBOX", b"no colon line\r\nSubject: survivor\r\n\r\nbody")
    mail_user.append("INBOX", make_raw("good2@example.org"))

    with open_mailbox(make_settings(mail_user, fetch_chunk=500)) as source:
        changes, cursor, batches = scan(source, None)
        assert scan(source, cursor)[0] == []

    assert len(batches[0].changes) == 7  # all in the first batch: nothing lost or split off
    assert all(isinstance(c, MailMessage | Skipped) for c in changes)
    found = {m.message_id: m for m in messages(changes) if m.message_id}
    assert {"good1@example.org", "good2@example.org"} <= set(found)
    assert found["good1@example.org"].problems == ()
    assert len(found["bigrefs@example.org"].headers) > 1_000_000
    assert found["bigrefs@example.org"].references  # parsed, even if capped
    assert len(found["bigjunk@example.org"].headers) < 2_000  # unrequested field not fetched
    assert len(found["bigsubj@example.org"].subject) <= 16_384
    skipped = [c for c in changes if isinstance(c, Skipped)]
    assert [s.reason for s in skipped] == ["no usable header fields"]
    assert [m.subject for m in messages(changes) if m.subject == "survivor"] == ["survivor"]
