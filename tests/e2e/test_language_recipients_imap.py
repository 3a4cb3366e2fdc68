"""Issue 8 items 3 and 5 on a real Dovecot, through the CLI: English and Chinese
contacts in one zh-CN account get drafts in their own language; To/Cc share a
sequence, Bcc recipients (seen on the Sent copy) get their own, and a mass
mailing is not followed (`explain` says so)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.imap_desk import LI, REPO, ImapDesk, mail, running_dovecot
from tests.servers.dovecot import Dovecot

T0 = "2026-11-02T{}+08:00"
T1 = "2026-11-03T15:00+08:00"
MASS = [f"p{i}@firm{i}.example" for i in range(12)]


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


def cli(desk: ImapDesk, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "daemon.cli.main", *desk.argv(*args, now=T1)]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_language_and_recipients_on_dovecot(dovecot: Dovecot, tmp_path: Path) -> None:
    desk = ImapDesk.create(dovecot, tmp_path / "desk")
    desk.outreach(
        ("Emma Clarke", "emma@mail.example"),
        "Staff engineer, payments platform",
        T0.format("09:00"),
        "en1@h",
        body="Hi Emma,\r\nwould you be open to a chat about the role?\r\nBest,\r\n李雷",
    )
    desk.outreach(
        ("王芳", "wang.fang@cand.example"),
        "高级Go工程师机会",
        T0.format("09:30"),
        "zh1@h",
        body="王芳您好，想和您聊聊这个 Senior Go Engineer 的机会。",
    )
    desk.outreach(
        ("Carl Diaz", "cto@initech.example"),
        "Candidates for your CTO search",
        T0.format("10:00"),
        "g1@h",
        body="Hi Carl, hi Dana, three candidates for you.",
        extra=(("Cc", "Dana Wu <vp@initech.example>"),),
    )
    desk.outreach(
        ("Anna Hill", "hm1@acme.example"),
        "Shortlist for the platform role",
        T0.format("10:30"),
        "g2@h",
        body="Hi Anna, hi Ben, here is the shortlist.",
        extra=(("Cc", "Ben Ray <hm2@acme.example>"),),
    )
    desk.outreach(
        LI,
        "新机会：资深架构师",
        T0.format("11:00"),
        "b1@h",
        extra=(("Bcc", "a.liu@x.example, b.sun@y.example"),),
    )
    desk.outreach(
        LI,
        "Hiring event invitation",
        T0.format("11:30"),
        "m1@h",
        body="Hi all, you are invited.",
        extra=(("Bcc", ", ".join(MASS)),),
    )
    # A Chinese outreach the consultant tagged gw:lang:en (an IMAP keyword) in their client.
    zhao = mail(LI, ("赵敏", "zhao.min@cand.example"), "产品总监机会", T0.format("12:00"), "zh2@h")
    desk.append("Sent", zhao, ("\\Seen", "gw:lang:en"))
    # Ben (Cc) answers in a new thread; Liu (Bcc) answers the outreach itself.
    desk.append(
        "INBOX",
        mail(
            ("Ben Ray", "hm2@acme.example"),
            LI,
            "Shortlist",
            T0.format("16:00"),
            "r1@acme",
            body="Thanks, we will look at them.",
        ),
    )
    desk.append(
        "INBOX",
        mail(
            ("", "a.liu@x.example"),
            LI,
            "Re: 新机会：资深架构师",
            T0.format("16:30"),
            "r2@x",
            reply_to="b1@h",
            body="好的。",
        ),
    )

    desk.ok("once", now=T1)
    drafts = {d.header("To"): d for d in desk.drafts()}
    to = {re.search(r"[\w.]+@[\w.]+", k).group(0): d for k, d in drafts.items()}  # type: ignore[union-attr]
    assert set(to) == {
        "emma@mail.example",
        "wang.fang@cand.example",
        "cto@initech.example",
        "b.sun@y.example",
        "zhao.min@cand.example",
    }
    text = {a: d.message.get_content() for a, d in to.items()}
    assert text["emma@mail.example"].startswith("Hi Emma,")
    assert "您好" in text["wang.fang@cand.example"]
    assert text["cto@initech.example"].startswith("Hi Carl and Dana,")
    assert "vp@initech.example" in to["cto@initech.example"].header("Cc")
    assert "您好" not in text["zhao.min@cand.example"]
    assert "a.liu" not in to["b.sun@y.example"].raw.decode("utf-8", "replace")
    states = {r["contact"]: r["state"] for r in desk.status(T1)}
    assert states["hm1@acme.example"] == "replied" and states["a.liu@x.example"] == "replied"
    assert not set(MASS) & set(states)

    assert (
        "draft language: en (from your outreach)"
        in cli(desk, "explain", "emma@mail.example").stdout
    )
    assert (
        "draft language: zh-CN (from your outreach)"
        in cli(desk, "explain", "wang.fang@cand.example").stdout
    )
    mass = cli(desk, "explain", MASS[0])
    assert mass.returncode == 1 and "mass mailing" in mass.stderr, mass.stderr
    (tid,) = re.findall(r"thread (\d+)", mass.stderr)
    assert "12 external people" in cli(desk, "explain", tid).stderr

    desk.ok("once", now=T1)
    assert len(desk.keys()) == 5  # no second draft for any sequence

    # `stop` naming one Bcc recipient stops theirs only, also after the next sync (no
    # gw:stop keyword that would stop the whole thread).
    desk.outreach(
        LI,
        "新机会：首席架构师",
        "2026-11-03T14:00+08:00",
        "b2@h",
        extra=(("Bcc", "c.wu@z.example, d.li@w.example"),),
    )
    desk.ok("once", now=T1)
    assert cli(desk, "stop", "c.wu@z.example").returncode == 0
    # Own processes from here (an in-process engine kept open across another process's
    # write met "disk I/O error" after the dbsafe merge; see the report).
    assert cli(desk, "once").returncode == 0
    states = {
        r["contact"]: r["state"] for r in json.loads(cli(desk, "status", "--all", "--json").stdout)
    }
    assert (states["c.wu@z.example"], states["d.li@w.example"]) == ("stopped", "waiting")
