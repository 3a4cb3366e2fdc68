"""How sync_mail recovers from an expired cursor and what `Severity` makes it skip.

The Maildir and Dovecot paths are in tests/e2e/test_cursor_rescan.py; here a
memory mailbox stands in for a provider whose history expires again during
the rescan (Gmail's historyId, Graph's 410), which no local server can do on
demand.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from connectors.base import Scope
from connectors.errors import ConnectorError, CursorExpired, Severity
from connectors.memory import MemoryMailbox, raw_message
from connectors.model import ChangeBatch
from daemon.config.identity import Identity
from daemon.db.engine import Store
from daemon.db.tables import Account, Message, Thread
from daemon.errors import AccountDegraded
from daemon.failures import severity_of, skips_part
from daemon.ingest.mail import sync_mail

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ME = "li.na@talentbridge.cn"
IDENTITY = Identity(own=frozenset({ME}), internal_domains=("talentbridge.cn",))


class ExpiringMailbox(MemoryMailbox):
    """Raises CursorExpired on the next `expiries` calls, then behaves."""

    def __init__(self, expiries: int = 0) -> None:
        super().__init__(batch_size=2)
        self.expiries = expiries
        self.calls: list[str | None] = []
        self.then_fail: ConnectorError | None = None

    def fetch_changes(
        self,
        cursor: str | None,
        *,
        since: datetime,
        header_fields: Sequence[str],
        scope: Scope = "all",
    ) -> Iterator[ChangeBatch]:
        self.calls.append(cursor)
        if self.expiries:
            self.expiries -= 1
            raise CursorExpired("history id no longer available")
        yield from super().fetch_changes(
            cursor, since=since, header_fields=header_fields, scope=scope
        )
        if self.then_fail is not None:
            raise self.then_fail


class FolderGone(ConnectorError):
    severity = Severity.FOLDER


def _box(expiries: int = 0) -> ExpiringMailbox:
    box = ExpiringMailbox(expiries)
    for i in range(3):
        when = NOW - timedelta(days=3, hours=i)
        raw = raw_message(
            sender=f"Li Na <{ME}>", to=f"c{i}@client.cn", subject=f"Role {i}",
            message_id=f"out{i}@talentbridge.cn", date=when,
        )  # fmt: skip
        box.deliver("sent", raw, received=when)
    return box


def _sync(store: Store, box: MemoryMailbox, **kw: object) -> object:
    return sync_mail(store, "acct", ME, box, IDENTITY, NOW, timedelta(days=30), **kw)  # type: ignore[arg-type]


def _state(store: Store) -> tuple[int, int, int, str, str | None]:
    with store.reader() as s:
        acct = s.scalar(select(Account))
        assert acct is not None
        messages = s.scalar(select(func.count()).select_from(Message))
        threads = s.scalar(select(func.count()).select_from(Thread))
        return messages or 0, threads or 0, acct.rescans, acct.health, acct.last_error


def test_one_expiry_is_one_rescan_with_the_same_rows(store: Store) -> None:
    box = _box()
    _sync(store, box)
    before = _state(store)
    box.expiries = 1
    report = _sync(store, box)
    assert report.cursor_rescans == 1  # type: ignore[attr-defined]
    assert box.calls[-2] is not None and box.calls[-1] is None  # stored cursor, then scratch
    assert _state(store) == (before[0], before[1], 1, "ok", None)


def test_a_second_expiry_in_the_rescan_degrades_the_account_without_looping(
    store: Store,
) -> None:
    box = _box()
    _sync(store, box)
    box.expiries = 5
    with pytest.raises(AccountDegraded, match="expired again during its rescan"):
        _sync(store, box)
    assert len(box.calls) == 3  # the first sync, the expired one, one rescan: no loop
    messages, threads, rescans, health, error = _state(store)
    assert (messages, threads, rescans, health) == (3, 3, 1, "degraded")
    assert error is not None and "history id no longer available" in error
    box.expiries = 0  # the provider is back: the next cycle is a plain first scan
    _sync(store, box)
    assert _state(store) == (3, 3, 1, "ok", None)


def test_the_recheck_does_not_rescan_a_cursor_this_cycle_wrote(store: Store) -> None:
    box = _box()
    _sync(store, box)
    box.expiries = 1
    with pytest.raises(AccountDegraded, match="cannot be used"):
        _sync(store, box, scope="inbound", may_rescan=False)
    assert _state(store)[2:4] == (0, "degraded")


def test_a_folder_error_keeps_what_was_fetched_and_the_account_ok(store: Store) -> None:
    box = _box()
    box.then_fail = FolderGone("could not read folder Archive this cycle")
    report = _sync(store, box)
    assert report.new == 3  # type: ignore[attr-defined]
    messages, _, _, health, error = _state(store)
    assert (messages, health) == (3, "ok")
    assert error == "could not read folder Archive this cycle"
    with store.reader() as s:
        assert s.scalar(select(Account.cursor))  # the batches' cursor was committed


def test_an_account_error_fails_the_sync() -> None:
    assert not skips_part(ConnectorError("login refused"))
    assert skips_part(FolderGone("x")) and severity_of(FolderGone("x")) is Severity.FOLDER
    assert severity_of(ValueError("bug")) is Severity.ACCOUNT
