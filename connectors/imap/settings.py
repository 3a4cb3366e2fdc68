"""Settings of one IMAP account, as the config loader fills them from `[accounts.mail]`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from connectors.secrets import SecretSource
from connectors.settings import is_loopback

__all__ = ["Security", "Settings", "is_loopback"]

Security = Literal["tls", "starttls", "plain"]


@dataclass(frozen=True, slots=True)
class Settings:
    """How to reach and read one IMAP mailbox.

    Only simple types, so the config loader can validate and document each
    field; `password` is filled from password_file / password_command /
    password_env, never from the config file itself.
    """

    # Server name or address.
    host: str
    # Login name, usually the mail address.
    username: str
    # Where the password comes from (filled by the loader from password_*).
    password: SecretSource | None = None
    # 993 for tls; 143 for starttls and plain.
    port: int = 993
    # tls: TLS from the first byte; starttls: upgrade on 143 and refuse if the
    # server does not offer it; plain: no encryption, allowed only to loopback.
    security: Security = "tls"
    # Verify the server certificate and host name (turn off only for a lab server).
    tls_verify: bool = True
    # Extra CA bundle (PEM) to trust, e.g. a company CA or a self-signed server cert.
    ca_file: str | None = None
    # Seconds to wait to connect and for each server response.
    timeout: float = 30.0
    # Folders replies are looked for in (glob patterns allowed, e.g. "Clients/*").
    # None: every folder except Sent, Drafts, Trash, Junk and virtual ones (\All, \Flagged).
    folders: tuple[str, ...] | None = None
    # Folders (glob patterns) never read, even when `folders` would include them.
    exclude_folders: tuple[str, ...] = ()
    # Name of the Sent folder when the server does not mark it (SPECIAL-USE) and
    # it has an unusual name.
    sent_folder: str | None = None
    # Name of the Drafts folder, same reason.
    drafts_folder: str | None = None
    # Messages per FETCH command and per batch handed to the daemon.
    fetch_chunk: int = 500
    # Seconds a connection may be silent before TCP keepalive probes it (4 probes,
    # a quarter of this apart), so a connection that died without a word (Wi-Fi
    # change, NAT timeout) is noticed within about twice this; 0 turns it off.
    keepalive: float = 60.0

    def __post_init__(self) -> None:
        # "[::1]" as in URLs: the brackets are not part of the address.
        host = self.host.strip()
        if host.startswith("[") and host.endswith("]"):
            object.__setattr__(self, "host", host[1:-1])

    def problems(self) -> list[str]:
        """Everything wrong with these settings, as `key: value: fix` lines (empty if fine)."""
        found: list[str] = []
        if not self.host.strip():
            found.append("host: empty: set the IMAP server name")
        if not self.username.strip():
            found.append("username: empty: set the login name")
        if not 0 < self.port < 65536:
            found.append(f"port: {self.port}: use 993 for tls, 143 for starttls")
        if self.security not in ("tls", "starttls", "plain"):
            found.append(f"security: {self.security!r}: use tls, starttls or plain")
        if self.security == "plain" and not is_loopback(self.host):
            found.append(
                f"security: 'plain' to {self.host}: the password would cross the network "
                "in clear; use tls (port 993) or starttls (port 143)"
            )
        if self.password is None or not self.password.configured:
            found.append("password: not set: set password_command, password_file or password_env")
        if self.timeout <= 0:
            found.append(f"timeout: {self.timeout}: use a positive number of seconds")
        if self.keepalive < 0:
            found.append(f"keepalive: {self.keepalive}: use seconds (60), or 0 to turn it off")
        if not 1 <= self.fetch_chunk <= 10_000:
            found.append(f"fetch_chunk: {self.fetch_chunk}: use 1..10000")
        return found
