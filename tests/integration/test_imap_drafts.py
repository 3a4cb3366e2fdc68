"""ImapDrafts beyond the contract, on a real Dovecot: where drafts land, what a
cut connection or a refusal does, and that withdrawing touches nothing else."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.errors import Permanent, Transient, Unsupported
from connectors.imap import ImapDrafts, Settings, open_drafts
from connectors.imap import drafts as drafts_module
from connectors.imap.client import Wire
from connectors.imap.normalize import parse_ref
from connectors.model import DraftRef
from tests.contract.draft_sink_suite import make_spec
from tests.servers.dovecot import Dovecot, MailUser, dovecot_binary, skip_or_fail
from tests.servers.tcpproxy import TcpProxy

pytestmark = pytest.mark.dovecot

WHEN = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
CONTINUATION = b"+ OK\r\n"  # Dovecot's answer to an APPEND's literal announcement


@pytest.fixture
def sinks() -> Iterator[Callable[..., ImapDrafts]]:
    opened: list[ImapDrafts] = []

    def make(settings: Settings, **kwargs: Any) -> ImapDrafts:
        sink = ImapDrafts(settings, **kwargs)
        opened.append(sink)
        return sink

    yield make
    for sink in opened:
        sink.close()


def fetch(user: MailUser, ref: DraftRef, items: list[str]) -> dict[bytes, Any]:
    _, uid, folder = parse_ref(ref.ref)
    with user.client() as client:
        client.select_folder(folder, readonly=True)
        return client.fetch([uid], items)[uid]


def drafts_with_key(user: MailUser, folder: str, key: str) -> list[int]:
    with user.client() as client:
        client.select_folder(folder, readonly=True)
        return sorted(client.search(["HEADER", "X-Ghostwatch-Key", key]))


# where drafts land -------------------------------------------------------------------


def test_draft_lands_in_the_special_use_folder_as_a_saved_draft(
    mail_user: MailUser, make_settings: Callable[..., Settings], sinks: Callable[..., ImapDrafts]
) -> None:
    mail_user.create_folder("草稿箱")  # a localized name must not beat SPECIAL-USE
    sink = sinks(make_settings(mail_user))
    made = sink.create_draft(make_spec(date=WHEN))

    assert parse_ref(made.ref)[2] == "Drafts" == sink.folder
    row = fetch(mail_user, made, ["FLAGS", "INTERNALDATE", "BODY.PEEK[]"])
    assert {b"\\Draft", b"\\Seen"} <= set(row[b"FLAGS"])
    assert row[b"INTERNALDATE"].astimezone(UTC) == WHEN
    assert made.content_hash == drafts_module.content_hash(row[b"BODY[]"])
    assert b"X-Ghostwatch-Key: seq42.1" in row[b"BODY[]"]
    assert mail_user.uids("草稿箱") == []


def test_unmarked_server_uses_the_localized_drafts_folder(
    legacy_user: MailUser, make_settings: Callable[..., Settings], sinks: Callable[..., ImapDrafts]
) -> None:
    legacy_user.create_folder("草稿箱")
    sink = sinks(make_settings(legacy_user))
    made = sink.create_draft(make_spec())
    assert parse_ref(made.ref)[2] == "草稿箱"
    assert legacy_user.uids("草稿箱") == [parse_ref(made.ref)[1]]
    assert sink.find_draft("seq42.1") == made


def test_drafts_folder_setting_wins(
    legacy_user: MailUser, make_settings: Callable[..., Settings], sinks: Callable[..., ImapDrafts]
) -> None:
    legacy_user.create_folder("Drafts")
    legacy_user.create_folder("Kandidaten/Entwürfe")
    sink = sinks(make_settings(legacy_user, drafts_folder="Kandidaten/Entwürfe"))
    made = sink.create_draft(make_spec())
    assert parse_ref(made.ref)[2] == "Kandidaten/Entwürfe"
    assert legacy_user.uids("Drafts") == []


def test_no_drafts_folder_is_unsupported(
    legacy_user: MailUser, make_settings: Callable[..., Settings], sinks: Callable[..., ImapDrafts]
) -> None:
    with pytest.raises(Unsupported) as caught:
        sinks(make_settings(legacy_user)).open()
    assert "no Drafts folder" in str(caught.value) and "drafts_folder" in caught.value.hint

    with pytest.raises(Unsupported, match="Brouillons ghostwatch"):
        sinks(make_settings(legacy_user, drafts_folder="Brouillons ghostwatch")).open()


# finding by key ----------------------------------------------------------------------


def test_key_match_is_exact_not_a_substring(
    mail_user: MailUser, make_settings: Callable[..., Settings], sinks: Callable[..., ImapDrafts]
) -> None:
    sink = sinks(make_settings(mail_user))
    ten = sink.create_draft(make_spec("seq4.10"))
    assert sink.find_draft("seq4.1") is None
    one = sink.create_draft(make_spec("seq4.1"))
    assert one != ten and sink.find_draft("seq4.1") == one
    assert len(mail_user.uids("Drafts")) == 2


def test_keys_with_imap_specials_are_found(
    mail_user: MailUser, make_settings: Callable[..., Settings], sinks: Callable[..., ImapDrafts]
) -> None:
    sink = sinks(make_settings(mail_user))
    made = sink.create_draft(make_spec('s(1)"%*{3}.2'))
    assert sink.find_draft('s(1)"%*{3}.2') == made
    assert sink.create_draft(make_spec('s(1)"%*{3}.2')) == made
    assert sink.find_draft("s(1).2") is None
    assert len(mail_user.uids("Drafts")) == 1


def test_connection_dropped_between_calls_is_reopened(
    mail_user: MailUser, make_settings: Callable[..., Settings], sinks: Callable[..., ImapDrafts]
) -> None:
    sink = sinks(make_settings(mail_user))
    made = sink.create_draft(make_spec())
    mail_user.kick()  # the server (or a NAT) dropped the idle connection between cycles
    assert sink.find_draft("seq42.1") == made
    mail_user.kick()
    assert sink.draft_state(made) == "untouched"


# a cut connection and a refusal --------------------------------------------------------


@pytest.mark.parametrize(
    "cut_at",
    [
        pytest.param(len(CONTINUATION) + 1, id="after-append-sent"),  # stored, answer lost
        pytest.param(len(CONTINUATION), id="before-literal"),  # never stored
    ],
)
def test_append_cut_is_transient_and_the_retry_makes_exactly_one_draft(
    cut_at: int,
    mail_user: MailUser,
    make_settings: Callable[..., Settings],
    proxy_to: Callable[[Dovecot], TcpProxy],
    sinks: Callable[..., ImapDrafts],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = proxy_to(mail_user.server)
    sink = sinks(make_settings(mail_user, port=proxy.port))
    sink.open()
    real_append = ImapDrafts._append
    appends: list[int] = []

    def append_then_cut(self: ImapDrafts, *args: Any) -> int | None:
        if not appends:
            # Everything before this was answered in full, so the count is exact.
            proxy.cut_after(proxy.down_bytes + cut_at)
        appends.append(1)
        return real_append(self, *args)

    monkeypatch.setattr(ImapDrafts, "_append", append_then_cut)
    spec = make_spec()
    with pytest.raises(Transient) as caught:
        sink.create_draft(spec)
    assert proxy.cuts == 1
    assert "checking in" not in str(caught.value)  # no message body in errors

    made = sink.create_draft(spec)  # what the daemon's retry does
    assert drafts_with_key(mail_user, "Drafts", "seq42.1") == [parse_ref(made.ref)[1]]
    assert len(mail_user.uids("Drafts")) == 1
    assert len(appends) == (1 if cut_at > len(CONTINUATION) else 2)
    assert open_drafts(make_settings(mail_user)).find_draft("seq42.1") == made


class QuotaDovecot(Dovecot):
    """Dovecot with a 2 KB quota: APPEND of a bigger message is refused with NO [OVERQUOTA]."""

    def _write_config(self) -> None:
        super()._write_config()
        with self.config.open("a", encoding="utf-8") as fh:
            fh.write(
                "mail_plugins = $mail_plugins quota\n"
                "plugin {\n  quota = maildir:User quota\n  quota_rule = *:storage=2K\n}\n"
            )


@pytest.fixture(scope="module")
def quota_dovecot() -> Iterator[Dovecot]:
    if dovecot_binary() is None:
        skip_or_fail("dovecot is not installed (apt-get install -y dovecot-imapd)")
    server = QuotaDovecot()
    try:
        yield server.start()
    finally:
        server.cleanup()


def test_refused_append_is_permanent_with_the_servers_reason_and_no_body(
    quota_dovecot: Dovecot,
    make_settings: Callable[..., Settings],
    sinks: Callable[..., ImapDrafts],
) -> None:
    user = quota_dovecot.add_user()
    sink = sinks(make_settings(user))
    secret = "confidential-salary-figure "
    with pytest.raises(Permanent) as caught:
        sink.create_draft(make_spec(body=secret * 200))
    message = str(caught.value)
    print(f"refusal: {message}")
    assert "OVERQUOTA" in message or "Quota" in message
    assert "seq42.1" in message and "Drafts" in message
    assert "confidential" not in message
    assert user.uids("Drafts") == []
    assert sink.find_draft("seq42.1") is None  # the connection is still usable


# withdrawing touches nothing else --------------------------------------------------------


def test_withdraw_leaves_the_users_deleted_and_other_messages_alone(
    mail_user: MailUser, make_settings: Callable[..., Settings], sinks: Callable[..., ImapDrafts]
) -> None:
    theirs = mail_user.append("Drafts", b"Subject: mine\r\n\r\nkeep me\r\n", flags=[r"\Draft"])
    doomed = mail_user.append("Drafts", b"Subject: bin\r\n\r\nlater\r\n", flags=[r"\Deleted"])
    sink = sinks(make_settings(mail_user))
    other = sink.create_draft(make_spec("seq7.1"))
    made = sink.create_draft(make_spec("seq7.2"))

    assert sink.withdraw_draft(made) is True
    remaining = mail_user.uids("Drafts")
    assert remaining == sorted([theirs, doomed, parse_ref(other.ref)[1]])
    assert sink.draft_state(other) == "untouched"


def test_without_uidplus_the_draft_is_only_flagged_deleted(
    mail_user: MailUser, make_settings: Callable[..., Settings], sinks: Callable[..., ImapDrafts]
) -> None:
    def no_uidplus(settings: Settings, password: str) -> Wire:
        wire = Wire.connect(settings, password)
        wire.caps = wire.caps - {"UIDPLUS"}  # as a server that lacks it
        return wire

    doomed = mail_user.append("Drafts", b"Subject: bin\r\n\r\nlater\r\n", flags=[r"\Deleted"])
    sink = sinks(make_settings(mail_user), connect=no_uidplus)
    made = sink.create_draft(make_spec())  # UID found by header search, not APPENDUID
    assert sink.find_draft("seq42.1") == made

    assert sink.withdraw_draft(made) is True
    uid = parse_ref(made.ref)[1]
    assert mail_user.uids("Drafts") == sorted([doomed, uid])  # nothing expunged
    assert b"\\Deleted" in fetch(mail_user, made, ["FLAGS"])[b"FLAGS"]
    assert sink.find_draft("seq42.1") is None
    assert sink.draft_state(made) == "gone"
    assert sink.withdraw_draft(made) is False


# states ------------------------------------------------------------------------------------


def test_a_copy_saved_next_to_the_draft_counts_as_edited(
    mail_user: MailUser, make_settings: Callable[..., Settings], sinks: Callable[..., ImapDrafts]
) -> None:
    sink = sinks(make_settings(mail_user))
    made = sink.create_draft(make_spec())
    raw = fetch(mail_user, made, ["BODY.PEEK[]"])[b"BODY[]"]
    mail_user.append("Drafts", raw.replace(b"is the role", b"is the job"), flags=[r"\Draft"])

    assert sink.draft_state(made) == "edited"
    assert sink.withdraw_draft(made) is False
    assert len(mail_user.uids("Drafts")) == 2


def test_new_uidvalidity_finds_the_draft_by_key(
    mail_user: MailUser, make_settings: Callable[..., Settings], sinks: Callable[..., ImapDrafts]
) -> None:
    sink = sinks(make_settings(mail_user))
    made = sink.create_draft(make_spec())
    gone = sink.create_draft(make_spec("seq42.2"))
    mail_user.expunge("Drafts", parse_ref(gone.ref)[1])
    mail_user.reset_uidvalidity("Drafts")  # a server migration

    assert sink.draft_state(gone) == "gone"
    assert sink.draft_state(made) == "untouched"
    moved = sink.find_draft("seq42.1")
    assert moved is not None and moved.ref != made.ref
    assert moved.content_hash == made.content_hash
    assert sink.withdraw_draft(made) is True
    assert mail_user.uids("Drafts") == []
