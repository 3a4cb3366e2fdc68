"""`ghostwatch demo` tells the whole story offline."""

from __future__ import annotations

import io
from pathlib import Path

from daemon.demo import run_demo


def test_demo_tells_the_whole_story(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_demo(tmp_path, out) == 0
    story = out.getvalue()
    assert "wrote to Drafts: draft step 1" in story
    assert "withdrew the untouched draft" in story  # Emma answered while her draft waited
    assert "liu.yang@old-company.example: undeliverable" in story
    assert "wang.fang@candidate.example: ghosted" in story
    assert "calendar reminder (call)" in story
    # A subject rule in the demo config names the job in drafts and reminders.
    assert "想跟进一下某头部短视频公司“高级Go工程师”这个机会" in story
    assert "给王芳打电话：高级Go工程师 @ 某头部短视频公司" in story
    # English contacts get English drafts: the language of the consultant's outreach.
    assert "Hi Emma," in story and "Hi Michael," in story
    assert "Emma Clarke，您好" not in story and "Michael Chen，您好" not in story
    assert "王芳，您好！" in story  # and the Chinese ones Chinese
    assert "reminder" in story and ".2.call written" in story  # in the vdir calendar
    assert "zhang.wei@corp.example: met" in story  # the interview in the calendar ended it
    assert "news@linkedin.example" not in story  # newsletters never start a sequence
    assert "boss@hunter.example" not in story  # nor do colleagues
    assert (tmp_path / "Mail" / ".Drafts").is_dir()
    assert any((tmp_path / "calendar" / "work").glob("ghostwatch-*.call@ghostwatch.ics"))
    # Running it again starts from a clean slate rather than piling up drafts.
    again = io.StringIO()
    assert run_demo(tmp_path, again) == 0
    assert again.getvalue().count("wrote to Drafts") == story.count("wrote to Drafts")


def test_the_demo_tells_each_ending_once(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_demo(tmp_path, out) == 0
    story = out.getvalue()
    assert story.count("emma.clarke@mail.example: replied") == 1
    for contact in ("liu.yang@old-company.example", "zhang.wei@corp.example"):
        assert story.count(f"   {contact}: ") == 1
