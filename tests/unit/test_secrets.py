"""Secret sources: files (with systemd's $CREDENTIALS_DIRECTORY), commands, environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from connectors.errors import ConfigProblem
from connectors.secrets import SecretSource


def test_password_file_expands_the_credentials_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "imap-password").write_text("s3cret\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert SecretSource(file="$CREDENTIALS_DIRECTORY/imap-password").resolve() == "s3cret"
    assert SecretSource(file="${CREDENTIALS_DIRECTORY}/imap-password").resolve() == "s3cret"


def test_an_unset_variable_is_an_error_that_says_where_it_comes_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(ConfigProblem) as caught:
        SecretSource(file="$CREDENTIALS_DIRECTORY/imap-password").resolve()
    assert "CREDENTIALS_DIRECTORY" in str(caught.value)
    assert "LoadCredential" in str(caught.value)


def test_password_file_keeps_inner_spaces_and_strips_only_the_line_end(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text(" two words \r\n", encoding="utf-8")
    assert SecretSource(file=str(secret)).resolve() == " two words "


def test_errors_name_the_source_never_the_secret(tmp_path: Path) -> None:
    command = f"{sys.executable} -c \"print('leaked-value'); raise SystemExit(3)\""
    with pytest.raises(ConfigProblem) as caught:
        SecretSource(command=command).resolve()
    assert "exited with 3" in str(caught.value)
    assert "leaked-value" not in str(caught.value)
    with pytest.raises(ConfigProblem) as missing:
        SecretSource(file=str(tmp_path / "absent")).resolve()
    assert "cannot read password_file" in str(missing.value)


def test_password_command_returns_the_first_line(tmp_path: Path) -> None:
    command = f"{sys.executable} -c \"print('first'); print('second')\""
    assert SecretSource(command=command).resolve() == "first"
