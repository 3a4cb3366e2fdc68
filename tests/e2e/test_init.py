"""The first five minutes (issue 8 item 7): `init` for one real account, then `check`;
`login` says what is not there yet. All through the CLI as a separate process."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def gw(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(home)}
    env.pop("GHOSTWATCH_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "daemon.cli.main", *args],
        input=stdin, capture_output=True, text=True, env=env, cwd=home, timeout=120, check=False,
    )  # fmt: skip


def test_init_writes_one_account_for_the_given_address(tmp_path: Path) -> None:
    config = tmp_path / "gw" / "config.toml"
    done = gw(tmp_path, "init", str(config), "--address", "li.lei@corp.example")
    assert done.returncode == 0, done.stderr
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    (account,) = data["accounts"]
    assert account["address"] == "li.lei@corp.example"
    assert account["mail"]["username"] == "li.lei@corp.example"
    assert account["mail"]["host"] == "imap.corp.example"
    assert "backup" not in account and "calendar" not in account
    assert data["policy"]["internal_domains"] == ["corp.example"]
    assert "colleague" not in done.stdout
    # `check` then fails on what the user has to fill in: the password, nothing else.
    check = gw(tmp_path, "--config", str(config), "check")
    assert check.returncode == 1
    problems = [line for line in check.stderr.splitlines() if line.startswith("problem:")]
    assert len(problems) == 1, check.stderr
    assert "work.secret" in problems[0]
    assert "templates (zh-CN): ok" in check.stdout


def test_init_asks_for_the_address(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    done = gw(tmp_path, "init", str(config), stdin="wang@qq.com\n")
    assert done.returncode == 0, done.stderr
    assert "address" in done.stdout.lower()
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    assert [a["address"] for a in data["accounts"]] == ["wang@qq.com"]
    assert data["accounts"][0]["mail"]["host"] == "imap.qq.com"
    assert data["policy"]["internal_domains"] == []  # webmail: not your colleagues


def test_init_refuses_a_non_address(tmp_path: Path) -> None:
    done = gw(tmp_path, "init", str(tmp_path / "c.toml"), "--address", "li.lei")
    assert done.returncode == 2
    assert "not a mail address" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "c.toml").exists()


def test_login_says_it_is_not_there_yet(tmp_path: Path) -> None:
    for argv in (("login",), ("login", "work")):
        done = gw(tmp_path, *argv)
        assert done.returncode == 1
        assert "gmail / graph sign-in is not available yet" in done.stderr
        assert "usage:" not in done.stderr
