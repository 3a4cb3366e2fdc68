"""Every registered connector declares itself, and the declaration is consistent."""

from __future__ import annotations

import dataclasses
import sys
import types

import pytest

import connectors
from connectors.base import Capability, MailConnector
from connectors.model import FolderRole


@pytest.mark.parametrize("kind", sorted(connectors.MAIL_CONNECTORS))
def test_mail_connectors_declare_settings_openers_and_roles(kind: str) -> None:
    entry = connectors.mail_connector(kind)
    assert dataclasses.is_dataclass(entry.settings)
    assert entry.can(Capability.DRAFTS) == (entry.open_drafts is not None)
    # Both connectors with folders name the setting that fixes a missing Sent folder.
    assert entry.folder_roles[FolderRole.SENT] == "set sent_folder"


@pytest.mark.parametrize("kind", sorted(connectors.CALENDAR_CONNECTORS))
def test_calendar_connectors_declare_settings_and_opener(kind: str) -> None:
    entry = connectors.calendar_connector(kind)
    assert dataclasses.is_dataclass(entry.settings) and callable(entry.open_calendar)


def test_only_imap_declares_push() -> None:
    assert connectors.mail_connector("imap").can(Capability.PUSH)
    assert not connectors.mail_connector("maildir").can(Capability.PUSH)


def test_inconsistent_declarations_are_refused() -> None:
    with pytest.raises(TypeError, match="go together"):
        MailConnector(settings=object, open_mailbox=print, capabilities=frozenset({"drafts"}))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="read-only"):
        MailConnector(
            settings=object,
            open_mailbox=print,  # type: ignore[arg-type]
            open_drafts=print,  # type: ignore[arg-type]
            capabilities=frozenset({Capability.DRAFTS, Capability.READ_ONLY}),
        )


def test_a_module_without_a_declaration_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("gw_test_undeclared")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(connectors.MAIL_CONNECTORS, "undeclared", module.__name__)
    with pytest.raises(TypeError, match="gw_test_undeclared declares no CONNECTOR"):
        connectors.mail_connector("undeclared")
    with pytest.raises(TypeError, match="not a mail connector"):
        monkeypatch.setitem(connectors.MAIL_CONNECTORS, "vdir", "connectors.vdir")
        connectors.mail_connector("vdir")
