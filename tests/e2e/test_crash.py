"""Issue 'Staged follow-up drafts', part 8: crashes and lost connections never cost a draft
and never make a second one.

The outbox commits its intent before it writes a draft and asks the Drafts
folder for the key before every write. These tests check that promise against
a real Dovecot: `ghostwatch once` is killed with SIGKILL at random instants,
the connection is cut around the APPEND by a proxy, and the server refuses the
APPEND (over quota). Afterwards there is exactly one draft per due step.

The kill schedule is random but reproducible: the seed is printed, and
GW_CRASH_SEED=<seed> replays it.
"""

from __future__ import annotations

import collections
import contextlib
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.imap_desk import REPO, ImapDesk, running_dovecot
from tests.servers.dovecot import Dovecot
from tests.servers.tcpproxy import TcpProxy, _Pair

pytestmark = pytest.mark.dovecot

NOW = "2026-11-04T10:00+08:00"  # every outreach below is past its step 1 (T+1)
LATER = "2026-11-04T10:15+08:00"  # past any retry backoff of a failed write (at most 2.4 min)
CONTACTS = [
    (("王芳", "wang.fang@candidate.example"), "高级Go工程师机会", "09:00"),
    (("Emma Clarke", "emma@mail.example"), "Staff engineer role", "09:20"),
    (("赵敏", "zhao.min@cand.example"), "产品总监机会", "10:00"),
    (("孙悟", "sun@corp.example"), "架构师职位", "10:40"),
    (("周杰", "zhou@corp.example"), "数据平台负责人", "11:10"),
    (("刘洋", "liu.yang@mail.example"), "交流一下", "13:30"),
    (("陈静", "chen.jing@cand.example"), "短名单", "14:00"),
    (("Priya Nair", "priya@mail.example"), "Engineering manager, Shanghai", "15:30"),
]
MIN_KILLS = 50
KILLS_PER_ROUND = 12  # at most; a round ends early once every draft is written


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


def seeded(server: Dovecot, root: Path, **kw: object) -> ImapDesk:
    """A desk with every outreach in Sent and ghostwatch's database created (the
    first start's schema creation has a test of its own below)."""
    desk = ImapDesk.create(server, root, **kw)  # type: ignore[arg-type]
    for i, (to, subject, at) in enumerate(CONTACTS):
        desk.outreach(to, subject, f"2026-11-02T{at}+08:00", f"crash{i}@hunter.example")
    assert desk.status(NOW) == []  # opens (creates) the database; nothing synced yet
    return desk


def draft_rows(desk: ImapDesk) -> dict[str, str]:
    """key -> state of the outbox's rows (read-only; the db may not exist yet)."""
    path = desk.root / "gw.db"
    if not path.exists():
        return {}
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            return dict(conn.execute("SELECT key, state FROM drafts").fetchall())
    except sqlite3.DatabaseError:
        return {}  # killed before the schema was there


def assert_one_draft_per_due_step(desk: ImapDesk, context: str) -> None:
    keys = desk.keys()
    counts = collections.Counter(keys)
    duplicates = {k: n for k, n in counts.items() if n > 1}
    rows = desk.status(NOW)
    expected = {f"{r['id']}.1" for r in rows}
    assert len(rows) == len(CONTACTS), f"{context}: {len(rows)} sequences"
    assert not duplicates, f"{context}: duplicate drafts {duplicates}"
    assert set(keys) == expected, (
        f"{context}: missing {sorted(expected - set(keys))}, extra {sorted(set(keys) - expected)}"
    )
    assert {r["state"] for r in rows} == {"draft_pending"}, f"{context}: {rows}"


# ---- SIGKILL at random instants -------------------------------------------------------------


def test_kill_9_at_random_points_never_duplicates_or_loses_a_draft(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    seed = int(os.environ.get("GW_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    rng = random.Random(seed)
    print(f"crash test seed: {seed} (replay with GW_CRASH_SEED={seed})")

    # A normal run on an identical mailbox gives the time span to kill in.
    calibration = seeded(dovecot, tmp_path / "calibration")
    started = time.monotonic()
    process = calibration.gw_process("once", now=NOW)
    assert process.wait(timeout=120) == 0, (calibration.root / "process.log").read_text()
    duration = time.monotonic() - started
    assert_one_draft_per_due_step(calibration, "calibration run")
    print(f"a normal `once` with {len(CONTACTS)} due threads takes {duration:.2f}s")

    kills = finished = rounds = in_window = partial = 0
    while kills < MIN_KILLS:
        rounds += 1
        assert rounds <= 40, f"only {kills} kills in 40 rounds: the runs end before the kills"
        desk = seeded(dovecot, tmp_path / f"round{rounds}")
        delays: list[str] = []
        on_server: list[str] = []
        for _ in range(KILLS_PER_ROUND):
            before = len(on_server)
            process = desk.gw_process("once", now=NOW)
            delay = rng.uniform(0, duration)
            time.sleep(delay)
            if process.poll() is None:
                process.kill()  # SIGKILL: no cleanup, no atexit, no rollback
                kills += 1
                delays.append(f"{delay:.3f}")
            else:
                finished += 1
                delays.append(f"{delay:.3f}(done)")
            process.wait(timeout=30)
            on_server, rows = desk.keys(), draft_rows(desk)
            partial += before < len(on_server) < len(CONTACTS)
            # A draft on the server whose row does not say `written` yet: the kill fell
            # between an APPEND and the commit after it, the window that matters most.
            in_window += any(rows.get(k) != "written" for k in on_server)
            done = len(on_server) >= len(CONTACTS) and set(rows.values()) == {"written"}
            if done or kills >= MIN_KILLS:
                break  # nothing left to interrupt here (a fresh mailbox next), or enough
        context = f"seed {seed}, round {rounds}, kill delays {delays}"
        code, out = desk.gw("once", now=NOW)  # the normal run after the kills
        assert code == 0, f"{context}: the run after the kills failed:\n{out}"
        assert_one_draft_per_due_step(desk, context)
    print(
        f"seed {seed}: {kills} kills in {rounds} rounds ({finished} runs finished before their "
        f"kill); {partial} kills stopped a run part-way through its drafts, {in_window} left a "
        "draft on the server whose row did not say written yet"
    )
    assert kills >= MIN_KILLS


# ---- SIGKILL during the very first start -----------------------------------------------------

# Runs the CLI, but SIGKILLs itself right after the schema migration created its first table:
# what a kill -9 (or power loss) during a new install's first start leaves behind.
_DIE_AFTER_FIRST_TABLE = """
import os, signal, sys
from alembic.operations import Operations
from daemon.cli.main import main
create_table = Operations.create_table
def create_then_die(self, *args, **kwargs):
    create_table(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
Operations.create_table = create_then_die
sys.exit(main(sys.argv[1:]))
"""


def test_a_kill_during_the_first_start_leaves_a_database_the_next_start_can_open(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    desk = ImapDesk.create(dovecot, tmp_path)
    desk.outreach(*CONTACTS[0][:2], "2026-11-02T09:00+08:00", "first0@hunter.example")
    done = subprocess.run(
        [sys.executable, "-c", _DIE_AFTER_FIRST_TABLE, *desk.argv("once", now=NOW)],
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    assert (tmp_path / "gw.db").exists()
    code, _ = desk.gw("once", now=NOW)
    assert code == 0, "a crash during the first start must not leave a database no start opens"
    (row,) = desk.status(NOW)
    assert desk.keys() == [f"{row['id']}.1"]


# ---- the connection cut around the APPEND ---------------------------------------------------


class AppendCutter(TcpProxy):
    """A TcpProxy that cuts the connection carrying the first APPEND.

    mode "command": the APPEND command line reaches the server, its message
    never does (the server stores nothing). mode "reply": the whole APPEND
    reaches the server, which stores the draft, but its answer never reaches
    the client, so the client cannot know the draft exists.
    """

    _COMMAND = re.compile(rb"(?im)^(\S+) (?:UID )?APPEND [^\r\n]*\r\n")

    def __init__(self, host: str, port: int, mode: str) -> None:
        super().__init__(host, port)
        self.mode = mode
        self._armed = True
        self._watch: tuple[_Pair, bytes] | None = None
        self.appends_seen = 0

    def _pump(self, pair: _Pair, downstream: bool) -> None:
        source, sink = (pair.upstream, pair.client) if downstream else (pair.client, pair.upstream)
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                break
            if not data:
                break
            if not downstream and self._armed and self._watch is None:
                match = self._COMMAND.search(data)
                if match:
                    self.appends_seen += 1
                    if self.mode == "command":
                        self._cut(pair, sink, data[: match.end()])
                        return
                    self._watch = (pair, match.group(1))
            if downstream and self._watch is not None and self._watch[0] is pair:
                tag = re.escape(self._watch[1])
                if re.search(rb"(?m)^" + tag + rb" (?:OK|NO|BAD)\b", data):
                    self._watch = None
                    self._cut(pair, sink, b"")  # the server has it; the client never hears
                    return
            try:
                sink.sendall(data)
            except OSError:
                break
        pair.close()

    def _cut(self, pair: _Pair, sink: socket.socket, last: bytes) -> None:
        self._armed = False
        with contextlib.suppress(OSError):
            if last:
                sink.sendall(last)
        time.sleep(0.2)  # let the server read what was sent before the line goes dead
        self.cuts += 1
        pair.close()


@pytest.mark.parametrize("mode", ["command", "reply"])
def test_a_connection_cut_at_the_append_ends_with_exactly_one_draft(
    dovecot: Dovecot, tmp_path: Path, mode: str
) -> None:
    with AppendCutter("127.0.0.1", dovecot.port, mode) as proxy:
        desk = ImapDesk.create(dovecot, tmp_path, port=proxy.port, timeout=5)
        desk.outreach(*CONTACTS[0][:2], "2026-11-02T09:00+08:00", "cut0@hunter.example")
        code, out = desk.gw("once", now=NOW)
        assert code == 0
        assert proxy.appends_seen == 1 and proxy.cuts == 1, "the cut must hit the APPEND"
        assert "not written yet" in out
        on_server = len(desk.drafts())
        assert on_server == (1 if mode == "reply" else 0)  # what the server had stored

        code, out = desk.gw("once", now=LATER)
        assert code == 0
        keys = desk.keys()
        (row,) = desk.status(LATER)
        assert keys == [f"{row['id']}.1"], keys
        assert len(desk.drafts()) == 1
        assert row["state"] == "draft_pending"
        assert proxy.cuts == 1  # the second run went through untouched
        code, out = desk.gw("once", now="2026-11-04T11:00+08:00")
        assert code == 0 and desk.keys() == keys


# ---- the server refuses the APPEND ----------------------------------------------------------


class QuotaDovecot(Dovecot):
    """Dovecot with a per-user storage quota, so an APPEND can be refused for real."""

    LIMIT = 6 * 1024

    def _write_config(self) -> None:
        super()._write_config()
        with self.config.open("a", encoding="utf-8") as conf:
            conf.write(
                "mail_plugins = $mail_plugins quota\n"
                "protocol imap {\n  mail_plugins = $mail_plugins imap_quota\n}\n"
                "plugin {\n"
                "  quota = maildir:User quota\n"
                f"  quota_rule = *:storage={self.LIMIT}B\n"
                "  quota_grace = 0\n"
                "}\n"
            )


def test_an_append_refused_by_the_server_is_shown_with_its_reason(tmp_path: Path) -> None:
    with running_dovecot(QuotaDovecot()) as server:
        desk = ImapDesk.create(server, tmp_path)
        desk.outreach(*CONTACTS[0][:2], "2026-11-02T09:00+08:00", "q0@hunter.example")
        # Fill the mailbox to 300 bytes under the quota: the outreach fits, no draft does.
        # (Stored sizes are at most the CRLF sizes counted here.)
        used = sum(len(m.raw) for m in desk.messages("Sent"))
        head = b"From: x@hunter.example\r\nSubject: filler\r\n\r\n"
        filler = head + b"x" * (QuotaDovecot.LIMIT - used - 300 - len(head) - 2) + b"\r\n"
        filler_uid = desk.append("Trash", filler, ("\\Seen",))

        code, out = desk.gw("once", now=NOW)
        assert code == 0
        assert "not written yet" in out
        assert desk.drafts() == []
        (row,) = desk.status(NOW)
        assert row["next_step"] == 1 and row["steps_done"] == 0
        explain = desk.ok("explain", CONTACTS[0][0][1], now=NOW)
        assert re.search(r"draft \S+\.1: not written yet; last error: .*quota", explain, re.I), (
            explain
        )
        assert "OVERQUOTA" in explain or "Quota exceeded" in explain

        # Room again (the consultant empties Trash): the next cycle after the backoff writes it.
        desk.user.expunge("Trash", filler_uid)
        desk.ok("once", now=LATER)
        (row,) = desk.status(LATER)
        assert desk.keys() == [f"{row['id']}.1"]
        assert row["state"] == "draft_pending"
