"""A consultant's Maildir plus a config, driven through the real `ghostwatch` CLI."""

from __future__ import annotations

import json
import mailbox
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from daemon.cli.main import main
from daemon.demo import mail as sample

CONFIG = """
[daemon]
database = "sqlite:///{root}/gw.db"
lookback = "30d"

[policy]
timezone = "Asia/Shanghai"
internal_domains = ["hunter.example"]
ignore = ["*noreply*"]
on_draft_deleted = "{on_deleted}"
max_drafts_per_cycle = {max_drafts}

[[accounts]]
name = "work"
address = "li.lei@hunter.example"
display_name = "李雷"
locale = "zh-CN"

[accounts.mail]
type = "maildir"
path = "{root}/Mail"
"""


@dataclass
class Desk:
    """The consultant's desk: the mailbox and the ghostwatch CLI."""

    root: Path
    capsys: pytest.CaptureFixture[str]
    err: str = ""

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    def gw(self, *args: str, now: str | None = None) -> tuple[int, str]:
        argv = ["--config", str(self.config)]
        if now:
            argv += ["--now", now]
        self.capsys.readouterr()
        code = main([*argv, *args])
        captured = self.capsys.readouterr()
        self.err = captured.err  # the log lines of the last command
        return code, captured.out

    def status(self, now: str) -> list[dict[str, object]]:
        code, out = self.gw("status", "--all", "--json", now=now)
        assert code == 0
        return json.loads(out)

    def deliver(self, letter: sample.Mail) -> None:
        sample.deliver(self.root / "Mail", letter)

    def folder(self, name: str) -> mailbox.Maildir:
        return mailbox.Maildir(self.root / "Mail", create=False).get_folder(name)

    def drafts(self) -> list[mailbox.MaildirMessage]:
        return list(self.folder("Drafts").values())

    def send_draft(self, contact: str, at: str) -> None:
        """What pressing send in a mail client does: Date set, the draft moves to Sent."""
        drafts, sent = self.folder("Drafts"), self.folder("Sent")
        for key, msg in drafts.items():
            if contact in (msg.get("To") or ""):
                copy = mailbox.MaildirMessage(msg)
                del copy["Date"]
                copy["Date"] = format_datetime(datetime.fromisoformat(at))
                copy.set_flags("S")
                sent.add(copy)
                drafts.remove(key)
                return
        raise AssertionError(f"no draft to {contact}")

    def delete_draft(self, contact: str) -> None:
        drafts = self.folder("Drafts")
        for key, msg in drafts.items():
            if contact in (msg.get("To") or ""):
                drafts.remove(key)
                return
        raise AssertionError(f"no draft to {contact}")

    def edit_draft(self, contact: str) -> None:
        drafts = self.folder("Drafts")
        for key, msg in drafts.items():
            if contact in (msg.get("To") or ""):
                body = msg.get_payload(decode=True).decode() + "\nP.S. 我周四在上海。\n"
                msg.set_payload(body.encode(), charset="utf-8")
                drafts[key] = msg
                return
        raise AssertionError(f"no draft to {contact}")


@pytest.fixture
def desk_factory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., Desk]:
    def make(on_deleted: str = "skip", max_drafts: int = 25, rules: str = "") -> Desk:
        """`rules`: [[policy.rules]] tables, appended (TOML allows them after [[accounts]])."""
        sample.create(tmp_path / "Mail")
        text = CONFIG.format(root=tmp_path, on_deleted=on_deleted, max_drafts=max_drafts) + rules
        (tmp_path / "config.toml").write_text(text, encoding="utf-8")
        return Desk(tmp_path, capsys)

    return make


@pytest.fixture
def desk(desk_factory: Callable[..., Desk]) -> Desk:
    return desk_factory()
