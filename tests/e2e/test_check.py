"""`ghostwatch check` and `init`: every problem at once, every capability found."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.cli.main import main
from tests.e2e.conftest import Desk


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_reports_what_it_found(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    calendar = desk.root / "cal"
    calendar.mkdir()
    with desk.config.open("a", encoding="utf-8") as f:
        f.write(f'\n[accounts.calendar]\ntype = "vdir"\npath = "{calendar}"\n')
    code, out, err = run(capsys, "--config", str(desk.config), "check")
    assert code == 0, err
    assert "templates (zh-CN): ok" in out
    assert "sent: Sent" in out and "drafts: Drafts" in out
    assert "calendar vdir: reached; file-cursor" in out


def test_check_lists_every_problem_and_exits_1(
    desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    with desk.config.open("a", encoding="utf-8") as f:
        f.write('\n[accounts.calendar]\ntype = "vdir"\npath = "/nonexistent/calendar"\n')
    tpl = desk.root / "tpl" / "zh-CN" / "candidate"
    tpl.mkdir(parents=True)
    (tpl / "step1.txt.j2").write_text("{{ salutation }} {{ compnay }}\n", encoding="utf-8")
    text = desk.config.read_text(encoding="utf-8")
    desk.config.write_text(
        text.replace("[daemon]", f'[daemon]\ntemplates_dir = "{desk.root / "tpl"}"')
    )
    code, _, err = run(capsys, "--config", str(desk.config), "check")
    assert code == 1
    assert "compnay" in err  # the template typo, found before any draft is due
    assert "calendar vdir" in err  # and the calendar, in the same run


def test_bad_config_lists_all_problems_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[policy]\nsteps = ["1x"]\nworking_hours = "18:00-09:00"\ntimezone = "Mars/Base"\n'
        '[[accounts]]\nname = "w"\naddress = "a@b.example"\npassword = "x"\n'
        '[accounts.mail]\ntype = "imap"\nhost = "imap.example.com"\nusername = "a"\n'
        'password = "hunter2"\n',
        encoding="utf-8",
    )
    code, _, err = run(capsys, "--config", str(config), "check")
    assert code == 1
    assert "Traceback" not in err and "hunter2" not in err
    for path in (
        "policy.steps",
        "policy.working_hours",
        "policy.timezone",
        "accounts[0].mail.password",
    ):
        assert path in err


def test_init_writes_a_config_that_check_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "gw" / "config.toml"
    code, out, _ = run(capsys, "init", str(target), "--address", "li.lei@hunter.example")
    assert code == 0 and "ghostwatch --config" in out
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    code, _, err = run(capsys, "init", str(target), "--address", "li.lei@hunter.example")
    assert code == 1 and "already exists" in err
