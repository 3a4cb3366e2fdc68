"""ImapDrafts against the DraftSink contract, on a real Dovecot (both flavours).

The legacy server marks no special-use folders: the harness creates "Drafts"
by name, as a webmail would, and the sink must find it by that name.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import connectors
from connectors.imap import ImapDrafts, Settings, open_drafts
from connectors.imap.normalize import parse_ref
from connectors.model import DraftRef
from connectors.secrets import SecretSource
from tests.contract.draft_sink_suite import DraftSinkContract
from tests.servers.dovecot import Dovecot, Flavour, MailUser, serve

pytestmark = pytest.mark.dovecot

DRAFTS = "Drafts"


class ImapDraftHarness:
    def __init__(self, user: MailUser) -> None:
        self.user = user
        self.opened: list[ImapDrafts] = []
        with user.client() as client:
            if not client.folder_exists(DRAFTS):
                client.create_folder(DRAFTS)

    def settings(self) -> Settings:
        return Settings(
            host="127.0.0.1",
            port=self.user.server.port,
            security="plain",
            username=self.user.name,
            password=SecretSource(file=str(self.user.server.password_file)),
            timeout=10.0,
        )

    def open_sink(self) -> ImapDrafts:
        sink = open_drafts(self.settings())
        sink.open()
        self.opened.append(sink)
        return sink

    def edit_draft(self, ref: DraftRef, body: str) -> None:
        """What Thunderbird and mutt do: APPEND the edited message, delete the old one."""
        _, uid, folder = parse_ref(ref.ref)
        with self.user.client() as client:
            client.select_folder(folder)
            raw = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
            head = raw.split(b"\r\n\r\n", 1)[0]
            edited = head + b"\r\n\r\n" + body.replace("\n", "\r\n").encode("utf-8")
            client.append(folder, edited, flags=(b"\\Draft", b"\\Seen"))
            client.delete_messages([uid])
            client.uid_expunge([uid])

    def delete_draft(self, ref: DraftRef) -> None:
        _, uid, folder = parse_ref(ref.ref)
        self.user.expunge(folder, uid)

    def count_drafts(self) -> int:
        return len(self.user.uids(DRAFTS))

    def close(self) -> None:
        for sink in self.opened:
            sink.close()


@pytest.fixture(scope="module", params=["modern", "legacy"])
def drafts_dovecot(request: pytest.FixtureRequest) -> Iterator[Dovecot]:
    flavour: Flavour = request.param
    yield from serve(flavour=flavour)


class TestImapDraftSink(DraftSinkContract):
    declaration = connectors.mail_connector("imap")

    @pytest.fixture
    def harness(self, drafts_dovecot: Dovecot) -> Iterator[ImapDraftHarness]:
        harness = ImapDraftHarness(drafts_dovecot.add_user("drafts"))
        yield harness
        harness.close()
