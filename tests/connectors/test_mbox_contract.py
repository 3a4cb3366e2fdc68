"""The example read-only mbox connector passes the mail contract suite, and
`check` asks it (not a Sent folder it does not need) what it needs."""

from __future__ import annotations

import mailbox
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest

import connectors
from daemon.cli.main import main
from tests.connectors import mbox_source
from tests.connectors.mbox_source import MboxSource, Settings
from tests.contract.draft_sink_suite import DraftSinkContract
from tests.contract.mail_source_suite import MailSourceContract, make_raw, scan

FOLDERS = {"inbox": "inbox", "sent": "Sent", "drafts": "Drafts"}
FLAG_LETTERS = {"\\Seen": "R", "\\Answered": "A", "\\Flagged": "F", "\\Draft": "T"}


class MboxHarness:
    """Writes the mbox files the way mutt does, through Python's mailbox module."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        for name in FOLDERS.values():
            mailbox.mbox(root / name).close()  # the files exist, empty

    def open_source(self, *, batch_size: int = 500) -> MboxSource:
        source = MboxSource(Settings(path=str(self.root), batch_size=batch_size))
        source.open()
        return source

    def _box(self, folder: str) -> mailbox.mbox:
        return mailbox.mbox(self.root / FOLDERS[folder], create=False)

    def deliver(
        self,
        folder: str,
        raw: bytes,
        *,
        flags: Iterable[str] = (),
        tags: Iterable[str] = (),
        received: datetime | None = None,
    ) -> None:
        msg = mailbox.mboxMessage(raw)
        if tags:
            msg["X-Ghostwatch-Tags"] = ", ".join(tags)
        letters = "".join(FLAG_LETTERS.get(f, "") for f in flags)
        if letters:  # mutt writes no Status header for a new, unread message
            msg.set_flags(letters)
        msg.set_from("MAILER-DAEMON", (received or datetime.now(UTC)).astimezone(UTC).timetuple())
        box = self._box(folder)
        box.add(msg)
        box.close()

    def _change(self, folder: str, message_id: str, edit: object) -> None:
        box = self._box(folder)
        box.lock()
        try:
            for key, msg in box.items():
                if (msg["Message-ID"] or "").strip("<> ") == message_id:
                    if edit is None:
                        box.remove(key)
                    else:
                        edit(msg)  # type: ignore[operator]
                        box[key] = msg
                    box.flush()
                    return
            raise KeyError(message_id)
        finally:
            box.unlock()
            box.close()

    def remove(self, folder: str, message_id: str) -> None:
        self._change(folder, message_id, None)

    def set_tags(self, folder: str, message_id: str, tags: Iterable[str]) -> None:
        def edit(msg: mailbox.mboxMessage) -> None:
            del msg["X-Ghostwatch-Tags"]
            msg["X-Ghostwatch-Tags"] = ", ".join(tags)

        self._change(folder, message_id, edit)

    def set_flags(self, folder: str, message_id: str, flags: Iterable[str]) -> None:
        letters = "".join(FLAG_LETTERS.get(f, "") for f in flags)
        self._change(folder, message_id, lambda msg: msg.set_flags(letters))


class TestMboxMailSource(MailSourceContract):
    declaration = mbox_source.CONNECTOR

    @pytest.fixture
    def harness(self, tmp_path: Path) -> MboxHarness:
        return MboxHarness(tmp_path / "mail")


class TestMboxDrafts(DraftSinkContract):
    """Read-only: the draft suite is skipped by the declaration, not by hand."""

    declaration = mbox_source.CONNECTOR


def test_the_example_stays_small() -> None:
    assert len(Path(mbox_source.__file__).read_text().splitlines()) < 200


CONFIG = """
[daemon]
database = "sqlite:///{root}/gw.db"
[[accounts]]
name = "archive"
address = "li.lei@example.com"
[accounts.mail]
type = "mbox"
path = "{root}/archive"
"""


def test_check_asks_the_source_which_folders_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # One registry line, as a newcomer adds it; an archive with an inbox and no Sent.
    monkeypatch.setitem(connectors.MAIL_CONNECTORS, "mbox", mbox_source.__name__)
    archive = tmp_path / "archive"
    archive.mkdir()
    box = mailbox.mbox(archive / "inbox")
    box.add(mailbox.mboxMessage(make_raw("a@example.org")))
    box.close()
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(root=tmp_path), encoding="utf-8")
    code = main(["--config", str(config), "check"])
    out, err = capsys.readouterr()
    assert "account archive (mbox): reached" in out
    assert "sent_folder" not in out + err and "Sent folder" not in err
    assert code == 0, err
    assert main(["--config", str(config), "sync"]) == 0
    assert main(["--config", str(config), "once"]) == 0  # read-only: nothing to write into


def test_a_scan_reads_the_archive(tmp_path: Path) -> None:
    harness = MboxHarness(tmp_path)
    harness.deliver("inbox", make_raw("a@example.org"), flags=["\\Seen"])
    changes, cursor, _ = scan(harness.open_source(), None)
    assert [c.flags for c in changes] == [frozenset({"\\Seen"})]
    assert scan(harness.open_source(), cursor)[0] == []
