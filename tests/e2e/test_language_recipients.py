# ruff: noqa: E501  (the mailbox reads best one message per line)
"""Issue 8 items 3 and 5 on a Maildir, through the CLI: drafts in each contact's
language (English and Chinese contacts in one zh-CN account), and outreach to
several people (To/Cc share a sequence, Bcc recipients get their own, a mass
mailing is not followed and `explain` says so)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from email.message import Message

from daemon.demo.mail import ME, Mail, at
from tests.e2e.conftest import Desk
from tests.e2e.imap_desk import REPO

T1 = "2026-11-03T15:00+08:00"
RULES = """
[[policy.rules]]
when = { subject = "\\\\[Globex\\\\]" }
set = { locale = "zh-CN" }
"""
MASS = [f"p{i}@firm{i}.example" for i in range(12)]


def sent(to: tuple[str, str], subject: str, body: str, hour: int, msgid: str, **kw: object) -> Mail:
    return Mail("Sent", ME, to, subject, body, at(0, hour), msgid, **kw)  # type: ignore[arg-type]


MAILBOX = [
    sent(("Emma Clarke", "emma@mail.example"), "Staff engineer, payments platform", "Hi Emma,\nwould you be open to a chat about the role?\nBest,\n李雷", 9, "en1@h"),
    sent(("王芳", "wang.fang@cand.example"), "高级Go工程师机会", "王芳您好，想和您聊聊这个 Senior Go Engineer 的机会。", 9, "zh1@h"),
    sent(("赵敏", "zhao.min@cand.example"), "产品总监机会", "赵敏您好，想和您聊聊这个机会。", 10, "zh2@h", tags="gw:lang:en"),
    sent(("Kate Moss", "kate@globex.example"), "[Globex] Head of data", "Hi Kate, the role I mentioned is attached.", 10, "en2@h"),
    sent(("Anna Hill", "hm1@acme.example"), "Shortlist for the platform role", "Hi Anna, hi Ben, here is the shortlist.", 11, "g1@h", extra=(("Cc", "Ben Ray <hm2@acme.example>"),)),
    sent(("Carl Diaz", "cto@initech.example"), "Candidates for your CTO search", "Hi Carl, hi Dana, three candidates for you.", 11, "g2@h", extra=(("Cc", "Dana Wu <vp@initech.example>"),)),
    sent(ME, "新机会：资深架构师", "您好，有一个资深架构师的机会想和您聊聊。", 14, "b1@h", extra=(("Bcc", "刘安 <a.liu@x.example>, 孙博 <b.sun@y.example>"),)),
    sent(ME, "Hiring event invitation", "Hi all, you are invited to our hiring event.", 15, "m1@h", extra=(("Bcc", ", ".join(MASS)),)),
    sent(("Old Boss", "old@gone.example"), "Data lead search", "Hi Sam, hi Lee, two profiles for the data lead role.", 12, "g3@h", extra=(("Cc", "Lee Park <lee@live.example>"),)),
    # Sam's address is dead; Lee, in Cc, is still there.
    Mail("", ("Mail Delivery System", "MAILER-DAEMON@hunter.example"), ME, "Undelivered Mail Returned to Sender", "<old@gone.example>: host mx.gone.example said: 550 5.1.1 User unknown", at(0, 12, 1), "dsn3@h", extra=(("Auto-Submitted", "auto-replied"), ("X-Failed-Recipients", "old@gone.example"))),
    # Ben, in Cc, answers in a thread of his own; Liu, in Bcc, answers the outreach.
    Mail("", ("Ben Ray", "hm2@acme.example"), ME, "Shortlist", "Thanks, we will look at them this week.", at(0, 16), "r1@acme"),
    Mail("", ("刘安", "a.liu@x.example"), ME, "Re: 新机会：资深架构师", "好的，周三电话聊。", at(0, 16, 30), "r2@x", in_reply_to="b1@h"),
]  # fmt: skip


def body(msg: Message) -> str:
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def cli(desk: Desk, *args: str, now: str = T1) -> subprocess.CompletedProcess[str]:
    """`ghostwatch ARGS` as its own process, as a consultant runs it."""
    argv = [sys.executable, "-m", "daemon.cli.main", "--config", str(desk.config), "--now", now, *args]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_language_and_recipients_on_a_maildir(desk_factory: Callable[..., Desk]) -> None:
    desk = desk_factory(rules=RULES)
    for letter in MAILBOX:
        desk.deliver(letter)
    code, out = desk.gw("once", now=T1)
    assert code == 0, out
    drafts = {d["To"]: d for d in desk.drafts()}
    by_addr = {re.search(r"<?([\w.]+@[\w.]+)>?$", to).group(1): d for to, d in drafts.items()}  # type: ignore[union-attr]
    assert set(by_addr) == {
        "emma@mail.example",
        "wang.fang@cand.example",
        "zhao.min@cand.example",
        "kate@globex.example",
        "cto@initech.example",
        "b.sun@y.example",
        "lee@live.example",
    }
    # The language follows the contact: the outreach's own, else a tag or a rule.
    assert body(by_addr["emma@mail.example"]).startswith("Hi Emma,")
    assert "您好" in body(by_addr["wang.fang@cand.example"])
    assert "您好" not in body(by_addr["zhao.min@cand.example"])  # gw:lang:en
    assert "您好" in body(by_addr["kate@globex.example"])  # the [Globex] rule: zh-CN
    # To/Cc: one draft, to everybody the outreach went to; Ben's answer ended Acme's.
    assert "vp@initech.example" in by_addr["cto@initech.example"]["Cc"]
    assert body(by_addr["cto@initech.example"]).startswith("Hi Carl and Dana,")
    # A hard bounce for one of two: the follow-up goes on, to the one still there.
    lee = by_addr["lee@live.example"]
    assert "gone.example" not in str(lee) and body(lee).startswith("Hi Lee,")
    # Bcc: Liu answered, Sun did not; Sun's draft is his alone.
    sun = by_addr["b.sun@y.example"]
    assert "a.liu" not in str(sun) and "您好" in body(sun)
    rows = {r["contact"]: r["state"] for r in desk.status(T1)}
    assert rows["hm1@acme.example"] == "replied"
    assert rows["a.liu@x.example"] == "replied"
    assert rows["b.sun@y.example"] == "draft_pending"
    assert rows["old@gone.example"] == "draft_pending"  # not undeliverable: Lee is alive
    assert not any(c in rows for c in MASS)

    explain = cli(desk, "explain", "emma@mail.example")
    assert explain.returncode == 0, explain.stderr
    assert "draft language: en (from your outreach)" in explain.stdout
    assert (
        "draft language: zh-CN (from your outreach)"
        in cli(desk, "explain", "wang.fang@cand.example").stdout
    )
    assert (
        "draft language: en (from tag gw:lang:en)"
        in cli(desk, "explain", "zhao.min@cand.example").stdout
    )
    assert (
        "draft language: zh-CN (from rule 1" in cli(desk, "explain", "kate@globex.example").stdout
    )
    acme = cli(desk, "explain", "hm2@acme.example").stdout
    assert "also to (an answer from any counts): Ben Ray <hm2@acme.example>" in acme
    assert (
        "left out of the follow-ups (hard bounce): old@gone.example"
        in cli(desk, "explain", "lee@live.example").stdout
    )
    sun_explain = cli(desk, "explain", "b.sun@y.example").stdout
    assert "contact: 孙博 <b.sun@y.example>" in sun_explain
    assert sun_explain.count("\nSequence ") == 1  # Sun's own, not Liu's

    mass = cli(desk, "explain", MASS[3])
    assert mass.returncode == 1
    assert "mass mailing" in mass.stderr and "12 external people" in mass.stderr
    (tid,) = re.findall(r"thread (\d+)", mass.stderr)
    by_id = cli(desk, "explain", tid)
    assert by_id.returncode == 1 and "mass mailing" in by_id.stderr

    # A second cycle writes nothing new (idempotent per recipient sequence).
    desk.gw("once", now=T1)
    assert len(desk.drafts()) == 7

    # Sun's follow-up, once sent, is a touch of his sequence only; Dana (Cc) answers
    # for Initech, which ends that sequence and withdraws the draft to Carl and her.
    desk.send_draft("b.sun@y.example", at="2026-11-03T15:10+08:00")
    desk.deliver(
        Mail(
            "",
            ("Dana Wu", "vp@initech.example"),
            ME,
            "Re: Candidates for your CTO search",
            "Thanks, Carl and I will read them.",
            at(1, 15, 20),
            "r3@initech",
            in_reply_to="g2@h",
        )
    )
    desk.gw("once", now="2026-11-03T15:30+08:00")
    rows = {r["contact"]: r for r in desk.status("2026-11-03T15:30+08:00")}
    assert (rows["b.sun@y.example"]["state"], rows["b.sun@y.example"]["steps_done"]) == (
        "waiting",
        1,
    )
    assert rows["a.liu@x.example"]["state"] == "replied"
    assert rows["cto@initech.example"]["state"] == "replied"
    assert not any("initech" in (d["To"] or "") for d in desk.drafts())

    # `stop` naming one Bcc recipient stops their sequence, not the others' of the thread.
    later = "2026-11-03T16:00+08:00"
    desk.deliver(
        Mail(
            "Sent",
            ME,
            ME,
            "新机会：首席架构师",
            "您好，还有一个首席架构师的机会。",
            at(1, 15, 40),
            "b2@h",
            extra=(("Bcc", "c.wu@z.example, d.li@w.example"),),
        )
    )
    desk.gw("once", now=later)
    stopped = cli(desk, "stop", "c.wu@z.example", now=later)
    assert stopped.returncode == 0, stopped.stderr
    # Read back by a process of its own too (an in-process engine kept open across another
    # process's write met "disk I/O error" after the dbsafe merge; see the report).
    listed = cli(desk, "status", "--all", "--json", now=later)
    rows = {r["contact"]: r["state"] for r in json.loads(listed.stdout)}
    assert (rows["c.wu@z.example"], rows["d.li@w.example"]) == ("stopped", "waiting")


def test_check_covers_the_locales_rules_set(desk_factory: Callable[..., Desk]) -> None:
    desk = desk_factory(
        rules='\n[[policy.rules]]\nwhen = { role = "exec" }\nset = { locale = "fr" }\n'
    )
    own = desk.root / "templates"
    (own / "fr" / "candidate").mkdir(parents=True)  # French begun, no step written yet
    text = desk.config.read_text(encoding="utf-8")
    desk.config.write_text(
        text.replace('lookback = "30d"', f'lookback = "30d"\ntemplates_dir = "{own}"'),
        encoding="utf-8",
    )
    found = cli(desk, "check")
    assert found.returncode == 1
    assert "template fr" in found.stdout + found.stderr
