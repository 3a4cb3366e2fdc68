"""Resolve a secret from a file, a command or the environment; never from config.

Errors name the source, never the secret.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from connectors.errors import ConfigProblem


@dataclass(frozen=True, slots=True)
class SecretSource:
    file: str | None = None
    command: str | None = None
    env: str | None = None

    def describe(self) -> str:
        if self.file:
            return f"password_file {self.file}"
        if self.command:
            return f"password_command `{self.command.split()[0] if self.command else ''} ...`"
        if self.env:
            return f"password_env {self.env}"
        return "no password source"

    @property
    def configured(self) -> bool:
        return bool(self.file or self.command or self.env)

    def resolve(self, timeout: float = 30.0) -> str:
        if self.file:
            path = expand_path(self.file)
            try:
                return path.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ConfigProblem(f"cannot read password_file {path}: {exc.strerror}") from None
        if self.command:
            try:
                argv = shlex.split(self.command)
            except ValueError as exc:
                raise ConfigProblem(f"password_command: cannot split it ({exc})") from None
            if not argv:
                raise ConfigProblem("password_command: empty")
            try:
                done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
            except FileNotFoundError:
                raise ConfigProblem(
                    f"password_command: `{argv[0]}` not found",
                    hint=f"install {argv[0]}, or give its full path in password_command",
                ) from None
            except PermissionError:
                raise ConfigProblem(f"password_command: `{argv[0]}` is not executable") from None
            except subprocess.TimeoutExpired:
                raise ConfigProblem(
                    f"password_command: `{argv[0]}` did not finish within {timeout:g}s",
                    hint="a password manager waiting for a passphrase? unlock it first",
                ) from None
            except OSError as exc:
                raise ConfigProblem(f"password_command: `{argv[0]}`: {exc.strerror}") from None
            if done.returncode != 0:
                raise ConfigProblem(f"password_command exited with {done.returncode}")
            return done.stdout.decode("utf-8", errors="replace").split("\n", 1)[0].rstrip("\r")
        if self.env:
            value = os.environ.get(self.env)
            if value is None:
                raise ConfigProblem(f"environment variable {self.env} is not set")
            return value
        raise ConfigProblem("no password source configured")


_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def expand_path(value: str) -> Path:
    """`~` and `$VAR` / `${VAR}` expanded; an unset variable is an error, not an empty string.

    systemd hands credentials over in `$CREDENTIALS_DIRECTORY`, so a unit's config
    can say `password_file = "$CREDENTIALS_DIRECTORY/imap-password"`. Silently
    expanding an unset variable to "" would read `/imap-password` instead.
    """

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        found = os.environ.get(name)
        if found is None:
            hint = (
                " (it is set by systemd for a unit with LoadCredential=)"
                if name == "CREDENTIALS_DIRECTORY"
                else ""
            )
            raise ConfigProblem(f"password_file {value} uses ${name}, which is not set{hint}")
        return found

    return Path(_VARIABLE.sub(substitute, value)).expanduser()
