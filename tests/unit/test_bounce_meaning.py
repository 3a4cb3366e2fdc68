"""What a bounce means (issue 8): its reason, and what the tracker does with it."""

from __future__ import annotations

import pytest

from daemon.act.render import DraftVars, render_reminder
from daemon.classify import classify
from daemon.classify.bounce_reason import family, is_hard, reason_of
from daemon.tracker.machine import next_action, replay, risk
from daemon.tracker.states import (
    Bounced,
    HumanReply,
    Risk,
    State,
    WriteDraft,
    WriteReminder,
)
from tests.unit.test_classify_rules import build, dsn
from tests.unit.test_tracker import OUT, at, ctx

# ---- the reason ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "text", "reason", "hard"),
    [
        ("5.1.1", "550 5.1.1 Recipient address rejected: User unknown", "userunknown", True),
        ("5.7.1", "554 5.7.1 Message rejected as spam by Content Filtering", "spamdetected", False),
        ("5.7.1", "550 5.7.1 Client host blocked using zen.spamhaus.org", "blocked", False),
        ("5.2.2", "552 5.2.2 Mailbox full", "mailboxfull", False),
        ("5.2.1", "550 5.2.1 This mailbox is disabled", "suspend", False),
        ("5.1.2", "Host or domain name not found", "hostunknown", True),
        ("4.4.7", "delivery time expired", "expired", False),
        # "User unknown" refused after DATA is a content filter's answer (sisimai agrees).
        ("5.0.0", "550 User unknown (in reply to end of DATA command)", "filtered", False),
        ("5.0.0", "550 User unknown (in reply to RCPT TO command)", "userunknown", True),
    ],
)  # fmt: skip
def test_reason_from_status_and_text(status: str, text: str, reason: str, hard: bool) -> None:
    assert reason_of(status, text) == reason
    assert is_hard(reason, status, text) is hard


def test_families_follow_the_issue() -> None:
    assert {family(r) for r in ("userunknown", "hostunknown", "hasmoved")} == {"gone"}
    assert family("notaccept", "5.1.10") == "gone"
    assert family("notaccept", "4.3.2") == "temporary"
    rejected = ("blocked", "spamdetected", "filtered", "policyviolation", "securityerror")
    assert {family(r) for r in rejected} == {"rejected"}
    assert {family(r) for r in ("mailboxfull", "suspend")} == {"mailbox"}
    assert {family(r) for r in ("expired", "systemerror", "onhold", "")} == {"temporary"}


def test_spam_rejection_dsn_is_a_soft_bounce_with_its_reason() -> None:
    raw = dsn(status="5.7.1").replace(
        b"550 5.7.1 sorry", b"554 5.7.1 This message has been identified as spam"
    )
    verdict = classify(raw)
    assert verdict.bounce is not None
    assert (verdict.bounce.reason, verdict.bounce.hard) == ("spamdetected", False)
    assert verdict.bounce.status == "5.7.1"  # the status code is kept


def test_plain_text_notice_gets_a_reason() -> None:
    raw = build(
        [
            ("From", "Mail Delivery System <Mailer-Daemon@mx.example.com>"),
            ("To", "li.lei@example.com"),
            ("Subject", "Mail delivery failed: returning message to sender"),
        ],
        "This message was created automatically by mail delivery software.\r\n\r\n"
        "A message that you sent could not be delivered to one or more of its\r\n"
        "recipients. This is a permanent error. The following address(es) failed:\r\n\r\n"
        "  wang.fang@client.example\r\n"
        "    SMTP error from remote mail server after RCPT TO:<wang.fang@client.example>:\r\n"
        "    host mx.client.example [192.0.2.1]: 550 5.1.1 No such user here\r\n",
    )
    verdict = classify(raw)
    assert verdict.kind == "bounce" and verdict.bounce is not None
    assert (verdict.bounce.reason, verdict.bounce.hard) == ("userunknown", True)


# ---- the tracker ---------------------------------------------------------------------------


def _bounce(reason: str, status: str, hard: bool = False) -> Bounced:
    return Bounced(at=at(2, 10, 1), ref="b", hard=hard, status=status, reason=reason)


def test_user_unknown_ends_undeliverable_with_the_dead_address_reminder() -> None:
    c = ctx()
    (run,) = replay([OUT, _bounce("userunknown", "5.1.1", hard=True)], at(4), c)
    assert run.record.state is State.UNDELIVERABLE
    assert [i.kind for i in run.end_intents if isinstance(i, WriteReminder)] == ["dead_address"]
    assert "userunknown 5.1.1" in run.record.outcome_reason


def test_spam_filter_rejection_keeps_the_thread_open_and_asks_for_a_call() -> None:
    c = ctx()
    # A stale "hard" flag (5.x.x) does not make a spam rejection a dead address: the reason decides.
    bounce = _bounce("spamdetected", "5.7.1", hard=True)
    (run,) = replay([OUT, bounce], at(3, 12), c)
    assert run.record.state is State.WAITING
    assert run.end_intents == []
    assert not any(isinstance(i, WriteDraft) for i in run.due)  # no more email steps
    assert run.due == [WriteReminder(step=1, kind="rejected", at=at(2, 10, 1))]
    assert next_action(run.record, c).action == "call"
    assert risk(run.record, at(3, 12), c) is Risk.YELLOW
    # The contact can still answer, and that ends the thread as usual.
    reply = HumanReply(at=at(4), ref="r", sender="wang.fang@client.example")
    (run,) = replay([OUT, bounce, reply], at(5), c)
    assert run.record.state is State.REPLIED


def test_mailbox_full_is_yellow_and_the_next_step_is_a_call() -> None:
    c = ctx()
    (run,) = replay([OUT, _bounce("mailboxfull", "5.2.2")], at(3, 12), c)
    assert run.record.state is State.WAITING
    assert run.due == [WriteReminder(step=1, kind="mailbox", at=at(2, 10, 1))]
    assert risk(run.record, at(3, 12), c) is Risk.YELLOW


@pytest.mark.parametrize(
    ("reason", "status"), [("expired", "4.4.7"), ("", "4.2.2"), ("mailboxfull", "4.2.2")]
)
def test_temporary_bounce_is_noted_and_mail_continues(reason: str, status: str) -> None:
    c = ctx()
    (run,) = replay([OUT, _bounce(reason, status)], at(3, 10), c)
    assert run.record.soft_bounces == 1
    assert run.due and isinstance(run.due[0], WriteDraft)


def test_bounce_stored_before_reasons_goes_by_its_hard_flag() -> None:
    (run,) = replay([OUT, _bounce("", "5.7.1", hard=True)], at(4), ctx())
    assert run.record.state is State.UNDELIVERABLE


SPAM_EN = "your mail was rejected by their server (spam filter): call or message instead"


@pytest.mark.parametrize(
    ("locale", "reason", "says"),
    [
        ("en", "spamdetected", SPAM_EN),
        ("zh-CN", "spamdetected", "被对方服务器拒收了（垃圾邮件过滤）：请改为打电话或发消息"),
        ("en", "policyviolation", "rejected by their server (policy)"),
    ],
)  # fmt: skip
def test_rejected_reminder_text(locale: str, reason: str, says: str) -> None:
    vars = DraftVars(contact_name="Emma Clarke", bounce_reason=reason)
    summary, description = render_reminder(locale, "rejected", vars)
    assert "Emma Clarke" in summary
    assert says in description.lower()


@pytest.mark.parametrize(("reason", "says"), [("mailboxfull", "is full"), ("suspend", "suspended")])
def test_mailbox_reminder_text(reason: str, says: str) -> None:
    summary, _ = render_reminder(
        "en", "mailbox", DraftVars(contact_name="Emma", bounce_reason=reason)
    )
    assert says in summary


def test_notice_for_two_recipients_is_led_by_the_dead_address() -> None:
    raw = build(
        [
            ("From", "MAILER-DAEMON@mx.example.com"),
            ("To", "li.lei@example.com"),
            ("Subject", "failure notice"),
        ],
        "Hi. This is the qmail-send program at mx.example.com.\r\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n\r\n"
        "<full@client.example>:\r\nRemote host said: 552 5.2.2 Mailbox full\r\n\r\n"
        "<gone@client.example>:\r\nRemote host said: 550 5.1.1 No such user here\r\n",
    )
    verdict = classify(raw)
    assert verdict.bounce is not None
    assert verdict.bounce.recipients == ("full@client.example", "gone@client.example")
    assert (verdict.bounce.reason, verdict.bounce.status, verdict.bounce.hard) == (
        "userunknown",
        "5.1.1",
        True,
    )
