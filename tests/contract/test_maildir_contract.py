"""The Maildir connector against the contract suites, plus what only Maildir has."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import connectors
from connectors.compose import content_hash
from connectors.errors import ConfigProblem, CursorExpired
from connectors.headers import parse_header_block
from connectors.maildir import MaildirDrafts, MaildirSource, Settings, open_drafts, open_mailbox
from connectors.maildir import source as source_module
from connectors.maildir.files import letters_for, list_messages, split_name, write_message
from connectors.maildir.layout import create_folder
from connectors.model import DraftRef, FolderRole, MailMessage, MessageGone, TagsChanged
from tests.contract.draft_sink_suite import DraftSinkContract, make_spec
from tests.contract.mail_source_suite import MailSourceContract, by_id, make_raw, scan

_ROLE_DIRS = {"inbox": "INBOX", "sent": "Sent", "drafts": "Drafts", "trash": "Trash"}


class MaildirHarness:
    """Writes the tree the way mbsync/Dovecot do: tmp/ then rename, flags in the name."""

    def __init__(self, root: Path, layout: str) -> None:
        self.root = root
        self.layout = layout
        self.paths = {
            role: create_folder(str(root), layout, name)
            if name != "INBOX" or layout != "maildir++"
            else _make_root_inbox(root)
            for role, name in _ROLE_DIRS.items()
        }

    def settings(self, **kw: object) -> Settings:
        return Settings(path=str(self.root), **kw)  # type: ignore[arg-type]

    def open_source(self, *, batch_size: int = 500) -> MaildirSource:
        src = open_mailbox(self.settings(batch_size=batch_size))
        src.open()
        return src

    def deliver(
        self,
        folder: str,
        raw: bytes,
        *,
        flags: Iterable[str] = (),
        tags: Iterable[str] = (),
        received: datetime | None = None,
    ) -> None:
        tags = list(tags)
        if tags:
            raw = _with_tags(raw, tags)
        flags = list(flags)
        path = write_message(self.paths[folder], raw, letters=letters_for(flags) if flags else None)
        if received is not None:
            os.utime(path, (received.timestamp(), received.timestamp()))

    def path_of(self, folder: str, message_id: str) -> str:
        base = self.paths[folder]
        for sub, filename in list_messages(base).values():
            path = os.path.join(base, sub, filename)
            with open(path, "rb") as fh:
                if parse_header_block(fh.read()).message_id == message_id:
                    return path
        raise LookupError(message_id)

    def remove(self, folder: str, message_id: str) -> None:
        os.unlink(self.path_of(folder, message_id))

    def set_tags(self, folder: str, message_id: str, tags: Iterable[str]) -> None:
        path = self.path_of(folder, message_id)
        with open(path, "rb") as fh:
            raw = _with_tags(fh.read(), list(tags))
        tmp = os.path.join(self.paths[folder], "tmp", "retag")
        with open(tmp, "wb") as fh:
            fh.write(raw)
        os.rename(tmp, path)  # same name, new content: how a header edit lands

    def set_flags(self, folder: str, message_id: str, flags: Iterable[str]) -> None:
        path = self.path_of(folder, message_id)
        unique, _ = split_name(os.path.basename(path))
        target = os.path.join(self.paths[folder], "cur", f"{unique}:2,{letters_for(flags)}")
        os.rename(path, target)

    # -- draft hooks --

    def open_sink(self) -> MaildirDrafts:
        return open_drafts(self.settings())

    def _draft_path(self, ref: DraftRef) -> str:
        unique = ref.ref.rpartition("/")[2]
        for sub, filename in list_messages(self.paths["drafts"]).values():
            if split_name(filename)[0] == unique:
                return os.path.join(self.paths["drafts"], sub, filename)
        raise LookupError(ref.ref)

    def edit_draft(self, ref: DraftRef, body: str) -> None:
        # mutt and most clients save an edited draft as a new file, then drop the old one
        old = self._draft_path(ref)
        with open(old, "rb") as fh:
            head = fh.read().split(b"\r\n\r\n", 1)[0]
        write_message(self.paths["drafts"], head + b"\r\n\r\n" + body.encode(), letters="DS")
        os.unlink(old)

    def delete_draft(self, ref: DraftRef) -> None:
        os.unlink(self._draft_path(ref))

    def count_drafts(self) -> int:
        return len(list_messages(self.paths["drafts"]))


def _make_root_inbox(root: Path) -> str:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return str(root)


def _with_tags(raw: bytes, tags: list[str]) -> bytes:
    stripped = re.sub(rb"(?im)^X-Ghostwatch-Tags:.*\r?\n", b"", raw)
    return b"X-Ghostwatch-Tags: " + " ".join(tags).encode() + b"\r\n" + stripped


@pytest.fixture(params=["maildir++", "verbatim"])
def maildir(request: pytest.FixtureRequest, tmp_path: Path) -> MaildirHarness:
    return MaildirHarness(tmp_path / "Mail", request.param)


class TestMaildirSource(MailSourceContract):
    declaration = connectors.mail_connector("maildir")

    @pytest.fixture
    def harness(self, maildir: MaildirHarness) -> MaildirHarness:
        return maildir


class TestMaildirDrafts(DraftSinkContract):
    declaration = connectors.mail_connector("maildir")

    @pytest.fixture
    def harness(self, maildir: MaildirHarness) -> MaildirHarness:
        return maildir


# -- what only Maildir has ------------------------------------------------------


def _age_dirs(folder_path: str, seconds: int = 60) -> None:
    past = datetime.now(UTC).timestamp() - seconds
    for sub in ("new", "cur"):
        os.utime(os.path.join(folder_path, sub), (past, past))


def test_quiet_scan_opens_and_lists_nothing(
    maildir: MaildirHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    maildir.deliver("inbox", make_raw("a@example.org"))
    _, cursor, _ = scan(maildir.open_source(), None)
    for path in maildir.paths.values():
        _age_dirs(path)
    _, cursor, _ = scan(maildir.open_source(), cursor)  # records the settled dir mtimes

    def forbidden(*_: object, **__: object) -> None:
        raise AssertionError("a quiet scan must not list or read message files")

    monkeypatch.setattr(source_module, "list_messages", forbidden)
    monkeypatch.setattr(source_module, "read_header_block", forbidden)
    assert scan(maildir.open_source(), cursor)[0] == []
    monkeypatch.undo()
    maildir.deliver("inbox", make_raw("b@example.org"))  # touches new/: listed again
    assert list(by_id(scan(maildir.open_source(), cursor)[0])) == ["b@example.org"]


def test_ref_survives_new_to_cur_move_and_flag_renames(maildir: MaildirHarness) -> None:
    maildir.deliver("inbox", make_raw("a@example.org"))
    src = maildir.open_source()
    first, cursor, _ = scan(src, None)
    ref = by_id(first)["a@example.org"].ref
    path = maildir.path_of("inbox", "a@example.org")
    assert os.path.basename(os.path.dirname(path)) == "new"
    unique = os.path.basename(path)
    os.rename(path, os.path.join(maildir.paths["inbox"], "cur", unique + ":2,"))
    changes, cursor, _ = scan(src, cursor)
    assert changes == []  # a client noticing the message is not a change
    maildir.set_flags("inbox", "a@example.org", ["\\Seen", "\\Flagged"])
    changes, cursor, _ = scan(src, cursor)
    assert len(changes) == 1 and isinstance(changes[0], TagsChanged)
    assert changes[0].ref == ref
    assert changes[0].flags == frozenset({"\\Seen", "\\Flagged"})
    assert src.fetch_raw(ref, max_bytes=10) is not None


def test_trash_junk_and_unconfigured_folders_are_not_watched(tmp_path: Path) -> None:
    h = MaildirHarness(tmp_path, "maildir++")
    junk = create_folder(str(tmp_path), "maildir++", "Spam")
    other = create_folder(str(tmp_path), "maildir++", "Clients/Acme")
    write_message(junk, make_raw("junk@example.org"))
    write_message(other, make_raw("acme@example.org"))
    h.deliver("trash", make_raw("trash@example.org"))
    h.deliver("inbox", make_raw("in@example.org"))
    found = by_id(scan(h.open_source(), None)[0])
    assert set(found) == {"in@example.org", "acme@example.org"}
    assert found["acme@example.org"].folder == "Clients/Acme"
    assert found["acme@example.org"].folder_role is FolderRole.OTHER

    only_inbox = MaildirSource(h.settings(folders=("inbox",)))
    only_inbox.open()
    assert set(by_id(scan(only_inbox, None)[0])) == {"in@example.org"}


def test_chinese_and_mutf7_folder_names_get_roles(tmp_path: Path) -> None:
    create_folder(str(tmp_path), "maildir++", "INBOX")
    for sub in ("cur", "new", "tmp"):
        (tmp_path / sub).mkdir(exist_ok=True)
    create_folder(str(tmp_path), "maildir++", "&XfJT0ZAB-")  # 已发送 in modified UTF-7
    create_folder(str(tmp_path), "maildir++", "草稿箱")
    src = MaildirSource(Settings(str(tmp_path)))
    src.open()
    roles = {f.name: f.role for f in src.folders()}
    assert roles["已发送"] is FolderRole.SENT
    assert roles["草稿箱"] is FolderRole.DRAFTS
    assert roles["INBOX"] is FolderRole.INBOX


def test_verbatim_nested_folders_and_overrides(tmp_path: Path) -> None:
    for name in ("INBOX", "Outgoing", "Work/Candidates/2024"):
        create_folder(str(tmp_path), "verbatim", name)
    settings = Settings(str(tmp_path), sent_folder="Outgoing")
    src = open_mailbox(settings)
    src.open()
    roles = {f.name: f.role for f in src.folders()}
    assert roles == {
        "INBOX": FolderRole.INBOX,
        "Outgoing": FolderRole.SENT,
        "Work/Candidates/2024": FolderRole.OTHER,
    }


def test_open_reports_missing_tree_and_unknown_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigProblem):
        MaildirSource(Settings(str(tmp_path / "nope"))).open()
    h = MaildirHarness(tmp_path / "Mail", "verbatim")
    with pytest.raises(ConfigProblem) as err:
        MaildirSource(h.settings(folders=("Inbxo",))).open()
    assert "Sent" in err.value.hint


def test_damaged_cursor_is_cursor_expired(maildir: MaildirHarness) -> None:
    for bad in ("not json", '{"v": 99}', '{"v": 1, "folders": {"INBOX": {"known": 3}}}'):
        with pytest.raises(CursorExpired):
            scan(maildir.open_source(), bad)


def test_first_scan_falls_back_to_mtime_without_date(maildir: MaildirHarness) -> None:
    old = datetime.now(UTC) - timedelta(days=300)
    undated = b"From: a@example.org\r\nMessage-ID: <undated@example.org>\r\n\r\nhi\r\n"
    maildir.deliver("inbox", undated, received=old)
    maildir.deliver("inbox", undated.replace(b"undated@", b"fresh@"))
    assert set(by_id(scan(maildir.open_source(), None)[0])) == {"fresh@example.org"}


def test_hidden_old_message_is_never_reported_later(maildir: MaildirHarness) -> None:
    old = datetime.now(UTC) - timedelta(days=300)
    maildir.deliver("inbox", make_raw("old@example.org", date=old), received=old)
    src = maildir.open_source()
    _, cursor, _ = scan(src, None)
    maildir.set_flags("inbox", "old@example.org", ["\\Seen"])
    changes, cursor, _ = scan(src, cursor)
    assert changes == []
    maildir.remove("inbox", "old@example.org")
    assert scan(src, cursor)[0] == []


def test_huge_header_is_cut_and_said_so(maildir: MaildirHarness) -> None:
    filler = "".join(f"X-Filler-{i}: {'y' * 90}\r\n" for i in range(13_000))
    raw = make_raw("big@example.org", extra=[filler.rstrip("\r\n")])
    maildir.deliver("inbox", raw)
    found = scan(maildir.open_source(), None)[0]
    assert len(found) == 1
    msg = found[0]
    assert isinstance(msg, MailMessage)
    assert any("cut" in p for p in msg.problems)
    assert len(msg.headers) < 4096  # X-Filler-* was not asked for


def test_drafts_sink_creates_the_drafts_folder_and_the_source_sees_the_draft(
    tmp_path: Path,
) -> None:
    root = tmp_path / "Mail"
    create_folder(str(root), "verbatim", "INBOX")
    settings = Settings(str(root))
    made = open_drafts(settings).create_draft(make_spec())
    files = os.listdir(root / "Drafts" / "cur")
    assert len(files) == 1 and files[0].endswith(":2,DS")
    src = open_mailbox(settings)
    src.open()
    drafts = [m for m in scan(src, None)[0] if isinstance(m, MailMessage)]
    assert [(m.ref, m.folder_role) for m in drafts] == [(made.ref, FolderRole.DRAFTS)]
    assert drafts[0].flags == frozenset({"\\Draft", "\\Seen"})
    raw = src.fetch_raw(made.ref, max_bytes=1 << 20)
    assert raw is not None and content_hash(raw) == made.content_hash
    assert b"X-Ghostwatch-Key: seq42.1" in raw


def test_deleted_folder_reports_its_messages_gone(tmp_path: Path) -> None:
    h = MaildirHarness(tmp_path, "verbatim")
    acme = create_folder(str(tmp_path), "verbatim", "Clients/Acme")
    write_message(acme, make_raw("acme@example.org"))
    src = h.open_source()
    first, cursor, _ = scan(src, None)
    ref = by_id(first)["acme@example.org"].ref
    shutil.rmtree(acme)
    changes, cursor, _ = scan(src, cursor)
    assert [(type(c), c.ref) for c in changes] == [(MessageGone, ref)]
    assert scan(src, cursor)[0] == []
