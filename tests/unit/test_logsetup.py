"""The log formatter: addresses masked at INFO, credentials always, journald prefixes."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.runtime import logsetup


@pytest.fixture
def stderr_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real file as stderr (JOURNAL_STREAM compares its inode). Each test calls
    `_use` in its body: pytest's capture swaps sys.stderr between phases."""
    path = tmp_path / "stderr"
    path.touch()
    yield path
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        stream = getattr(handler, "stream", None)
        if getattr(stream, "name", None) == str(path):
            stream.close()  # type: ignore[union-attr]


def _use(path: Path, monkeypatch: pytest.MonkeyPatch, verbose: bool = False) -> None:
    monkeypatch.setattr(sys, "stderr", path.open("a", encoding="utf-8"))
    logsetup.setup(verbose)


def _log(path: Path, level: int, msg: str, *args: object) -> str:
    logging.getLogger("ghostwatch.test").log(level, msg, *args)
    sys.stderr.flush()
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("wrote draft to wang.fang@candidate.example", "wrote draft to w***@candidate.example"),
        ("login refused for Li.Lei+gw@hunter.example.", "login refused for L***@hunter.example."),
        ("already w***@example.net", "already w***@example.net"),
        ("<o1@hunter.example>", "<o***@hunter.example>"),
        ("王芳 <wang@candidate.example>", "王芳 <w***@candidate.example>"),
        ("no address @ all, a@b", "no address @ all, a@b"),
        ("postgresql+psycopg://gw:s3cret@db/gw", "postgresql+psycopg://***@db/gw"),
    ],
)
def test_mask_text(text: str, shown: str) -> None:
    assert logsetup.mask_text(text) == shown


def test_info_is_masked_debug_is_not(stderr_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    _use(stderr_file, monkeypatch, verbose=True)
    out = _log(stderr_file, logging.INFO, "[work] degraded: login for %s", "li.lei@hunter.example")
    assert "l***@hunter.example" in out and "li.lei@" not in out
    out = _log(stderr_file, logging.DEBUG, "detail %s", "li.lei@hunter.example")
    assert "detail li.lei@hunter.example" in out


def test_credentials_in_urls_are_masked_even_at_debug(
    stderr_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    _use(stderr_file, monkeypatch, verbose=True)
    out = _log(stderr_file, logging.DEBUG, "db %s", "postgresql+psycopg://gw:hunter2@db/gw")
    assert "hunter2" not in out


def test_journald_prefix_on_every_line(stderr_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    st = os.stat(stderr_file)
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
    _use(stderr_file, monkeypatch)
    out = _log(stderr_file, logging.ERROR, "config reload:\n%s", "line two")
    assert out == "<3>ghostwatch.test: config reload:\n<3>line two\n"


def test_inherited_journal_stream_of_another_file_is_ignored(
    stderr_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    other.touch()
    st = os.stat(other)
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
    _use(stderr_file, monkeypatch)
    out = _log(stderr_file, logging.WARNING, "plain")
    assert not out.startswith("<") and "WARNING ghostwatch.test: plain" in out
