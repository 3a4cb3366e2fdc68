"""ImapMailbox against the MailSource contract, on a real Dovecot (every flavour)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

import pytest

import connectors
from connectors.imap import ImapMailbox, Settings, open_mailbox
from connectors.secrets import SecretSource
from tests.contract.mail_source_suite import MailSourceContract
from tests.servers.dovecot import Dovecot, Flavour, MailUser, serve

pytestmark = pytest.mark.dovecot

# The legacy server has no special-use folders: the harness creates them by name,
# as a webmail would, and the connector must find them by that name.
_FOLDERS = {"inbox": "INBOX", "sent": "Sent", "drafts": "Drafts", "trash": "Trash"}


class ImapHarness:
    def __init__(self, user: MailUser) -> None:
        self.user = user
        self.opened: list[ImapMailbox] = []
        existing = {name for _, _, name in _list(user)}
        for name in _FOLDERS.values():
            if name not in existing:
                user.create_folder(name)

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "host": "127.0.0.1",
            "port": self.user.server.port,
            "security": "plain",
            "username": self.user.name,
            "password": SecretSource(file=str(self.user.server.password_file)),
            "timeout": 10.0,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    def open_source(self, *, batch_size: int = 500) -> ImapMailbox:
        source = open_mailbox(self.settings(fetch_chunk=batch_size))
        source.open()
        self.opened.append(source)
        return source

    def deliver(
        self,
        folder: str,
        raw: bytes,
        *,
        flags: Iterable[str] = (),
        tags: Iterable[str] = (),
        received: datetime | None = None,
    ) -> None:
        self.user.append(_FOLDERS[folder], raw, flags=[*flags, *tags], when=received)

    def _uid(self, folder: str, message_id: str) -> int:
        with self.user.client() as client:
            client.select_folder(_FOLDERS[folder], readonly=True)
            uids = client.search(["HEADER", "Message-ID", f"<{message_id}>"])
        assert len(uids) == 1, f"{message_id} in {folder}: {uids}"
        return int(uids[0])

    def remove(self, folder: str, message_id: str) -> None:
        self.user.expunge(_FOLDERS[folder], self._uid(folder, message_id))

    def set_tags(self, folder: str, message_id: str, tags: Iterable[str]) -> None:
        self._replace(folder, message_id, keep_tags=False, add=tags)

    def set_flags(self, folder: str, message_id: str, flags: Iterable[str]) -> None:
        self._replace(folder, message_id, keep_tags=True, add=flags)

    def _replace(
        self, folder: str, message_id: str, *, keep_tags: bool, add: Iterable[str]
    ) -> None:
        uid = self._uid(folder, message_id)
        with self.user.client() as client:
            client.select_folder(_FOLDERS[folder])
            current = [f.decode() for f in client.get_flags([uid]).get(uid, ())]
            is_tag = [f.lower().startswith("gw:") for f in current]
            kept = [f for f, tag in zip(current, is_tag, strict=True) if tag == keep_tags]
            kept = [f for f in kept if f != "\\Recent"]
            client.set_flags([uid], [*kept, *add])

    def close(self) -> None:
        for source in self.opened:
            source.close()


def _list(user: MailUser) -> list[tuple[object, object, str]]:
    with user.client() as client:
        return list(client.list_folders())


@pytest.fixture(scope="module", params=["modern", "legacy", "condstore"])
def contract_dovecot(request: pytest.FixtureRequest) -> Iterator[Dovecot]:
    flavour: Flavour = request.param
    yield from serve(flavour=flavour)


class TestImapMailSource(MailSourceContract):
    declaration = connectors.mail_connector("imap")

    @pytest.fixture
    def harness(self, contract_dovecot: Dovecot) -> Iterator[ImapHarness]:
        harness = ImapHarness(contract_dovecot.add_user("contract"))
        yield harness
        harness.close()


_EXPECTED_CAPS = {
    "modern": ({b"CONDSTORE", b"QRESYNC", b"SPECIAL-USE"}, set()),
    "legacy": (set(), {b"CONDSTORE", b"QRESYNC", b"SPECIAL-USE"}),
    "condstore": ({b"CONDSTORE", b"SPECIAL-USE"}, {b"QRESYNC"}),
}


def test_each_flavour_offers_exactly_the_extensions_it_stands_for(
    contract_dovecot: Dovecot,
) -> None:
    with contract_dovecot.add_user("caps").client() as client:
        caps = set(client.capabilities())
    present, absent = _EXPECTED_CAPS[contract_dovecot.flavour]
    assert present <= caps
    assert not absent & caps
