"""Drafts left waiting, and snoozing (issue 8 item 6), through the CLI on a Maildir."""

from __future__ import annotations

import json
from collections.abc import Callable

from daemon.demo import mail as sample
from tests.e2e.conftest import Desk

WANG = sample.OUTREACH[0]  # Mon 2 Nov 09:30; step 1 due Tue 09:30
T1 = "2026-11-03T10:00+08:00"  # Tuesday: the step 1 draft is written


def row_of(desk: Desk, now: str) -> dict[str, object]:
    (row,) = [r for r in desk.status(now) if r["contact"] == sample.WANG[1]]
    return row


def test_an_unsent_draft_turns_yellow_then_red(desk: Desk) -> None:
    desk.deliver(WANG)
    desk.gw("once", now=T1)
    assert len(desk.drafts()) == 1
    row = row_of(desk, "2026-11-04T10:00+08:00")  # one business day: still fine
    assert (row["state"], row["risk"]) == ("draft_pending", "green")
    assert row["draft_waiting_since"] == "2026-11-03T10:00:00+08:00"
    assert row_of(desk, "2026-11-05T10:00+08:00")["risk"] == "yellow"  # 2 business days
    assert row_of(desk, "2026-11-09T10:00+08:00")["risk"] == "red"  # 4 (a weekend between)
    code, out = desk.gw("status", now="2026-11-05T10:00+08:00")
    assert code == 0 and "draft 1 waiting since 11-03 10:00" in out


def test_stale_draft_is_configurable(desk_factory: Callable[..., Desk]) -> None:
    desk = desk_factory()
    text = desk.config.read_text(encoding="utf-8")
    desk.config.write_text(text.replace("[policy]", '[policy]\nstale_draft = "5bd"'))
    desk.deliver(WANG)
    desk.gw("once", now=T1)
    assert row_of(desk, "2026-11-05T10:00+08:00")["risk"] == "green"


def test_snooze_holds_the_steps_until_the_date(desk: Desk) -> None:
    desk.deliver(WANG)
    desk.gw("once", now="2026-11-02T18:00+08:00")
    code, out = desk.gw("snooze", sample.WANG[1], "2026-11-09", now="2026-11-02T18:00+08:00")
    assert code == 0 and "snoozed until 2026-11-09" in out
    desk.gw("once", now=T1)
    assert desk.drafts() == []  # step 1 was due Tuesday: it waits
    row = row_of(desk, T1)
    assert row["snoozed_until"] == row["next_due"] == "2026-11-09T09:00:00+08:00"
    code, out = desk.gw("status", now=T1)
    assert "snoozed: step 1 at 11-09 09:00" in out
    desk.gw("once", now="2026-11-09T09:30+08:00")
    assert len(desk.drafts()) == 1  # the date has come


def test_a_reply_still_ends_a_snoozed_thread(desk: Desk) -> None:
    desk.deliver(sample.OUTREACH[1])
    desk.gw("once", now="2026-11-02T18:00+08:00")
    desk.gw("snooze", sample.EMMA[1], "2026-11-20", now="2026-11-02T18:00+08:00")
    desk.deliver(sample.EMMA_REPLY)
    desk.gw("once", now="2026-11-03T16:00+08:00")
    (row,) = desk.status("2026-11-03T16:00+08:00")
    assert row["state"] == "replied"


def test_a_snooze_tag_pauses_the_thread(desk: Desk) -> None:
    tagged = sample.Mail(
        "Sent", sample.ME, sample.WANG, WANG.subject, "……", WANG.when, WANG.msgid,
        tags="gw:role:tech gw:snooze:2026-11-06",
    )  # fmt: skip
    desk.deliver(tagged)
    desk.gw("once", now=T1)
    assert desk.drafts() == []
    code, out = desk.gw("status", "--json", now=T1)
    assert code == 0
    (row,) = json.loads(out)
    assert row["snoozed_until"] == "2026-11-06T09:00:00+08:00"
    desk.gw("once", now="2026-11-06T09:30+08:00")
    assert len(desk.drafts()) == 1


def test_snooze_with_a_bad_date_is_a_usage_error(desk: Desk) -> None:
    desk.deliver(WANG)
    desk.gw("once", now=T1)
    code, _ = desk.gw("snooze", sample.WANG[1], "next week", now=T1)
    assert code == 2


def test_one_daily_calendar_reminder_while_drafts_wait(desk: Desk) -> None:
    calendar = desk.root / "cal"
    calendar.mkdir()
    with desk.config.open("a", encoding="utf-8") as f:
        f.write(f'\n[accounts.calendar]\ntype = "vdir"\npath = "{calendar}"\n')

    def digests() -> list[str]:
        return [p.read_text(encoding="utf-8") for p in calendar.glob("*stale-drafts*.ics")]

    desk.deliver(WANG)
    desk.deliver(sample.OUTREACH[1])
    desk.gw("once", now="2026-11-03T10:30+08:00")
    assert len(desk.drafts()) == 2 and digests() == []
    desk.gw("once", now="2026-11-04T10:30+08:00")
    assert digests() == []  # one business day: not stale yet
    for _ in range(2):  # idempotent: a second cycle the same day adds nothing
        assert desk.gw("once", now="2026-11-05T10:40+08:00")[0] == 0
        (digest,) = digests()
        assert "有 2 封跟进邮件在草稿箱等你发送" in digest
        assert "DTSTART;TZID=Asia/Shanghai:20261105T104500" in digest
    desk.send_draft(sample.WANG[1], at="2026-11-05T10:41+08:00")
    desk.send_draft(sample.EMMA[1], at="2026-11-05T10:42+08:00")
    desk.gw("once", now="2026-11-05T10:43+08:00")
    assert digests() == []  # nothing waits any more: the digest still ahead is removed


def test_dry_run_shows_the_digest_it_would_add(desk: Desk) -> None:
    calendar = desk.root / "cal"
    calendar.mkdir()
    with desk.config.open("a", encoding="utf-8") as f:
        f.write(f'\n[accounts.calendar]\ntype = "vdir"\npath = "{calendar}"\n')
    desk.deliver(WANG)
    desk.gw("once", now=T1)
    code, out = desk.gw("once", "--dry-run", now="2026-11-05T10:40+08:00")
    assert code == 0
    assert "would add to the calendar: 11-05 10:45 有 1 封跟进邮件在草稿箱等你发送" in out
    assert list(calendar.glob("*stale-drafts*")) == []
