"""Finding Sent/Drafts/Junk: SPECIAL-USE first, localized names as the fallback,
folder names in modified UTF-7 decoded end to end."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.imap import Settings, open_mailbox
from connectors.imap.folders import ListedFolder, assign_roles, watched
from connectors.model import FolderRole
from tests.contract.mail_source_suite import by_id, make_raw, scan
from tests.servers.dovecot import MailUser


def listed(*rows: tuple[str, str]) -> list[ListedFolder]:
    return [
        ListedFolder(name, frozenset(f for f in flags.lower().split()), "/") for name, flags in rows
    ]


def roles_of(rows: list[ListedFolder], **kw: str) -> dict[str, FolderRole]:
    return {f.name: f.role for f, _ in assign_roles(rows, **kw)}


def test_special_use_beats_names() -> None:
    roles = roles_of(listed(("INBOX", ""), ("Sent", ""), ("Outbox", "\\Sent")))
    assert roles == {"INBOX": FolderRole.INBOX, "Sent": FolderRole.OTHER, "Outbox": FolderRole.SENT}


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("已发送", FolderRole.SENT),
        ("已发送邮件", FolderRole.SENT),
        ("已發送", FolderRole.SENT),
        ("Sent Items", FolderRole.SENT),
        ("Gesendete Elemente", FolderRole.SENT),
        ("Envoyés", FolderRole.SENT),
        ("送信済み", FolderRole.SENT),
        ("보낸편지함", FolderRole.SENT),
        ("INBOX/Sent", FolderRole.SENT),
        ("草稿箱", FolderRole.DRAFTS),
        ("Entwürfe", FolderRole.DRAFTS),
        ("Deleted Items", FolderRole.TRASH),
        ("已删除", FolderRole.TRASH),
        ("垃圾邮件", FolderRole.JUNK),
        ("Spam", FolderRole.JUNK),
        ("Clients/Sent", FolderRole.OTHER),
    ],
)
def test_localized_names_are_recognised(name: str, role: FolderRole) -> None:
    assert roles_of(listed(("INBOX", ""), (name, "")))[name] is role


def test_top_level_name_wins_and_overrides_apply() -> None:
    rows = listed(("INBOX", ""), ("Clients/Sent Items", ""), ("Sent Items", ""), ("Out", ""))
    assert roles_of(rows)["Sent Items"] is FolderRole.SENT
    overridden = roles_of(rows, sent_folder="Out")
    assert overridden["Out"] is FolderRole.SENT and overridden["Sent Items"] is FolderRole.OTHER


def test_unselectable_and_virtual_folders() -> None:
    rows = listed(
        ("INBOX", ""), ("[Gmail]", "\\Noselect"), ("[Gmail]/All Mail", "\\All"),
        ("[Gmail]/Sent Mail", "\\Sent"), ("Work", ""),
    )  # fmt: skip
    folders = assign_roles(rows)
    assert "[Gmail]" not in {f.name for f, _ in folders}
    inbound = watched(folders, include=None, exclude=(), inbound_only=True)
    assert [f.name for f in inbound] == ["Work", "INBOX"]  # the Inbox last, see watched()
    everything = watched(folders, include=None, exclude=("Work",), inbound_only=False)
    assert [f.name for f in everything] == ["[Gmail]/Sent Mail", "INBOX"]
    chosen = watched(folders, include=("Wo*",), exclude=(), inbound_only=True)
    assert [f.name for f in chosen] == ["Work"]


@pytest.mark.dovecot
def test_chinese_folders_without_special_use_end_to_end(
    legacy_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    """163.com style: no SPECIAL-USE, folders named in Chinese (modified UTF-7 on the wire)."""
    for name in ("已发送", "草稿箱", "垃圾邮件", "客户/重要"):
        legacy_user.create_folder(name)
    legacy_user.append("已发送", make_raw("out@example.com", sender="li.lei@example.com"))
    legacy_user.append("草稿箱", make_raw("draft@example.com"), flags=["\\Draft"])
    legacy_user.append("垃圾邮件", make_raw("spam@example.net"))
    legacy_user.append("客户/重要", make_raw("vip@example.org"))

    with open_mailbox(make_settings(legacy_user)) as source:
        roles = {f.name: f.role for f in source.folders()}
        assert roles["已发送"] is FolderRole.SENT
        assert roles["草稿箱"] is FolderRole.DRAFTS
        assert roles["垃圾邮件"] is FolderRole.JUNK
        assert roles["客户/重要"] is FolderRole.OTHER

        changes, cursor, _ = scan(source, None)
        found = by_id(changes)
        assert set(found) == {"out@example.com", "draft@example.com", "vip@example.org"}
        out = found["out@example.com"]
        assert (out.folder, out.folder_role) == ("已发送", FolderRole.SENT)
        assert out.ref.endswith(":已发送")
        assert source.fetch_raw(out.ref, max_bytes=200)
        assert scan(source, cursor)[0] == []


@pytest.mark.dovecot
def test_sent_folder_override_for_an_unusual_name(
    legacy_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    legacy_user.create_folder("Outgoing")
    legacy_user.append("Outgoing", make_raw("out@example.com"))
    with open_mailbox(make_settings(legacy_user, sent_folder="Outgoing")) as source:
        changes, _, _ = scan(source, None, scope="all")
        assert by_id(changes)["out@example.com"].folder_role is FolderRole.SENT
        assert scan(source, None, scope="inbound")[0] == []
