"""The vdir calendar connector against the calendar contract, plus what only vdir has."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors import ical
from connectors.errors import ConfigProblem
from connectors.vdir import Settings, VdirCalendar, open_calendar
from tests.contract.calendar_suite import SINCE, CalendarContract, foreign_ics, reminder


class VdirHarness:
    """Writes the directory the way vdirsyncer does: a temp file, then a rename."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.settings = Settings(path=str(root), calendar="ghostwatch")
        self.directory = Path(self.settings.directory)

    def open_calendar(self) -> VdirCalendar:
        return open_calendar(self.settings)

    def open_without_sync_tokens(self) -> None:
        return None

    def write_foreign(self, name: str, data: bytes) -> bool:
        self.directory.mkdir(exist_ok=True)
        tmp = self.directory / f".{name}.part"
        tmp.write_bytes(data)
        os.replace(tmp, self.directory / name)
        return True

    def delete_foreign(self, name: str) -> None:
        (self.directory / name).unlink()

    def read_foreign(self, name: str) -> bytes | None:
        path = self.directory / name
        return path.read_bytes() if path.exists() else None

    def count_items(self) -> int:
        return len([p for p in self.directory.glob("*.ics") if not p.name.startswith(".")])

    def drop_write_responses(self, calendar: Any, n: int) -> None:
        store = calendar.store
        left = [n]

        def lossy(write: Callable[..., bool]) -> Callable[..., bool]:
            def wrapped(*args: Any, **kwargs: Any) -> bool:
                done = write(*args, **kwargs)
                if left[0] > 0:
                    left[0] -= 1
                    raise TimeoutError("the answer was lost (test)")  # e.g. NFS, sshfs
                return done

            return wrapped

        for name in ("create", "replace", "remove"):
            setattr(store, name, lossy(getattr(store, name)))


class TestVdirCalendar(CalendarContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> VdirHarness:
        return VdirHarness(tmp_path / "calendars")


# -- what only vdir has ---------------------------------------------------------


def test_missing_root_is_a_config_problem(tmp_path: Path) -> None:
    cal = open_calendar(Settings(path=str(tmp_path / "nope")))
    with pytest.raises(ConfigProblem) as err:
        cal.open()
    assert str(tmp_path / "nope") in str(err.value)


def test_files_follow_the_vdir_layout(tmp_path: Path) -> None:
    cal = open_calendar(Settings(path=str(tmp_path), calendar="ghostwatch"))
    made = cal.put_event(reminder())
    directory = tmp_path / "ghostwatch"
    assert (directory / "displayname").read_text() == "ghostwatch"
    assert sorted(p.name for p in directory.iterdir()) == ["displayname", f"{made.uid}.ics"]
    assert made.href == f"{made.uid}.ics"
    assert (directory / made.href).stat().st_mode & 0o777 == 0o600


def test_calendar_dir_itself_as_path(tmp_path: Path) -> None:
    h = VdirHarness(tmp_path)
    h.write_foreign("a.ics", foreign_ics("a-1"))
    cal = open_calendar(Settings(path=str(h.directory)))
    assert [e.uid for e in cal.fetch_changes(None, since=SINCE).events] == ["a-1"]


def test_uid_in_an_odd_file_name_is_still_found(tmp_path: Path) -> None:
    h = VdirHarness(tmp_path)
    cal = h.open_calendar()
    made = cal.put_event(reminder())
    os.rename(h.directory / made.href, h.directory / "renamed-by-a-sync-tool.ics")
    found = cal.find_event(made.uid)
    assert found is not None and found.href == "renamed-by-a-sync-tool.ics"
    assert cal.put_event(reminder(summary="changed")).href == "renamed-by-a-sync-tool.ics"
    assert h.count_items() == 1


def test_untouched_files_are_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = VdirHarness(tmp_path)
    h.write_foreign("a.ics", foreign_ics("a-1"))
    old = datetime(2026, 1, 2, tzinfo=UTC).timestamp()
    os.utime(h.directory / "a.ics", (old, old))
    cal = h.open_calendar()
    cursor = cal.fetch_changes(None, since=SINCE).cursor

    def forbidden(*_: object, **__: object) -> None:
        raise AssertionError("a quiet scan must not read item files")

    monkeypatch.setattr(cal.store, "read", forbidden)
    assert cal.fetch_changes(cursor, since=SINCE).events == ()


def test_touched_but_unchanged_file_is_not_reported(tmp_path: Path) -> None:
    h = VdirHarness(tmp_path)
    h.write_foreign("a.ics", foreign_ics("a-1"))
    cal = h.open_calendar()
    cursor = cal.fetch_changes(None, since=SINCE).cursor
    os.utime(h.directory / "a.ics", None)
    h.write_foreign("a.ics", foreign_ics("a-1"))
    assert cal.fetch_changes(cursor, since=SINCE).events == ()


def test_garbage_file_is_skipped_not_fatal(tmp_path: Path) -> None:
    h = VdirHarness(tmp_path)
    h.write_foreign("junk.ics", b"\x00\xffnot a calendar at all")
    h.write_foreign("ok.ics", foreign_ics("ok-1"))
    cal = h.open_calendar()
    assert [e.uid for e in cal.fetch_changes(None, since=SINCE).events] == ["ok-1"]
    assert cal.skipped and cal.skipped[0][0] == "?"


def test_hashed_name_for_an_unsafe_uid(tmp_path: Path) -> None:
    h = VdirHarness(tmp_path)
    event = reminder(uid=ical.UID_PREFIX + "seq/1 2")
    made = h.open_calendar().put_event(event)
    assert made.href == ical.resource_name(event.uid) and "/" not in made.href
    assert h.open_calendar().find_event(event.uid) == made
