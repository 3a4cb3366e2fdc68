"""The consultant is on leave: with a backup the rhythm is kept, without one it pauses."""

from __future__ import annotations

import json
from email import message_from_bytes
from pathlib import Path

import pytest

from daemon.cli.main import main
from daemon.demo import mail as sample

LEAVE = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//phone//EN\r\nBEGIN:VEVENT\r\n"
    "UID:leave-1\r\nDTSTAMP:20261101T000000Z\r\nDTSTART;VALUE=DATE:20261105\r\n"
    "DTEND;VALUE=DATE:20261106\r\nSUMMARY:年假\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def account(root: Path, name: str, address: str, backup: str | None) -> str:
    (root / name / "cal").mkdir(parents=True)
    sample.create(root / name / "Mail")
    backup_line = f'backup = "{backup}"\n' if backup else ""
    return (
        f'[[accounts]]\nname = "{name}"\naddress = "{address}"\n'
        f'display_name = "李雷"\n{backup_line}'
        f'[accounts.mail]\ntype = "maildir"\npath = "{root / name / "Mail"}"\n'
        f'[accounts.calendar]\ntype = "vdir"\npath = "{root / name / "cal"}"\n'
    )


def setup(root: Path, with_backup: bool) -> Path:
    text = f'[daemon]\ndatabase = "sqlite:///{root}/gw.db"\nlookback = "30d"\n'
    text += account(root, "li", sample.ME[1], "han" if with_backup else None)
    if with_backup:
        text += account(root, "han", "han.meimei@hunter.example", None)
    (root / "config.toml").write_text(text, encoding="utf-8")
    mail = root / "li" / "Mail"
    sample.deliver(mail, sample.OUTREACH[0])  # Mon 09:30 to Wang Fang
    subject = "Re: " + sample.OUTREACH[0].subject
    follow = sample.Mail(
        "Sent", sample.ME, sample.WANG, subject, "…", sample.at(1, 10), "f1@hunter.example",
        in_reply_to="o1@hunter.example",
    )  # fmt: skip
    sample.deliver(mail, follow)  # the consultant's own step-1 follow-up on Tuesday
    (root / "li" / "cal" / "leave.ics").write_text(LEAVE, encoding="utf-8")
    return root / "config.toml"


def gw(config: Path, capsys: pytest.CaptureFixture[str], *args: str, now: str) -> str:
    capsys.readouterr()
    assert main(["--config", str(config), "--now", now, *args]) == 0
    return capsys.readouterr().out


def test_without_a_backup_the_schedule_pauses_until_the_return(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = setup(tmp_path, with_backup=False)
    gw(config, capsys, "once", now="2026-11-05T10:00+08:00")  # Thu: T+3, on leave
    (row,) = json.loads(gw(config, capsys, "status", "--json", now="2026-11-05T10:00+08:00"))
    assert (row["next_step"], row["next_due"]) == (2, "2026-11-06T09:00:00+08:00")
    assert not list((tmp_path / "li" / "Mail" / ".Drafts" / "cur").iterdir())


def test_with_a_backup_the_rhythm_is_kept_and_the_backup_gets_the_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = setup(tmp_path, with_backup=True)
    gw(config, capsys, "once", now="2026-11-05T10:00+08:00")
    # The draft waits in the backup's Drafts, signed for the owner, answers going to the owner.
    assert not list((tmp_path / "li" / "Mail" / ".Drafts" / "cur").iterdir())
    (draft_file,) = (tmp_path / "han" / "Mail" / ".Drafts" / "cur").iterdir()
    draft = message_from_bytes(draft_file.read_bytes())
    assert draft["From"].endswith("<han.meimei@hunter.example>")
    assert draft["Reply-To"].endswith(f"<{sample.ME[1]}>")
    assert "代李雷跟进" in draft.get_payload(decode=True).decode()
    backup_events = [
        p.read_text("utf-8") for p in (tmp_path / "han" / "cal").glob("ghostwatch-*.ics")
    ]
    assert len(backup_events) == 1
    assert "李雷" in backup_events[0]  # the original owner is named
    assert not list((tmp_path / "li" / "cal").glob("ghostwatch-*.ics"))

    # The backup sends it: a touch in the owner's thread, and no sequence of the backup's own.
    sent = tmp_path / "han" / "Mail" / ".Sent" / "cur" / (draft_file.name.split(":")[0] + ":2,S")
    draft_file.rename(sent)
    gw(config, capsys, "once", now="2026-11-05T11:00+08:00")
    rows = json.loads(gw(config, capsys, "status", "--all", "--json", now="2026-11-05T11:00+08:00"))
    assert [(r["account"], r["steps_done"], r["next_step"]) for r in rows] == [("li", 2, 3)]
