"""What a CalDAV calendar is configured with (`[accounts.calendar] type = "caldav"`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from connectors.secrets import SecretSource
from connectors.settings import check_timezone, is_loopback


@dataclass(frozen=True, slots=True)
class Settings:
    """How to reach one CalDAV calendar.

    Only simple types, so the config loader can validate and document each
    field; `password` is filled from password_file / password_command /
    password_env, never from the config file itself.
    """

    # Server root, your principal, or your calendar-home URL, e.g.
    # "https://dav.example.com/" or "https://dav.example.com/calendars/li.lei/".
    # The calendar's own URL works too.
    url: str
    # Display name of the calendar ghostwatch writes reminders to; created if missing.
    calendar: str = "ghostwatch"
    # Login name; None for a server without authentication.
    username: str | None = None
    # Where the password comes from (filled by the loader from password_*).
    password: SecretSource | None = None
    # Verify the server certificate and host name (turn off only for a lab server).
    tls_verify: bool = True
    # Seconds to wait for each server response.
    timeout: float = 30.0
    # Read changes with RFC 6578 sync tokens when the server offers them; false
    # forces the slower ctag/etag comparison (for servers whose sync is broken).
    sync_tokens: bool = True
    # Zone that floating (zone-less) times written by other clients are read in,
    # e.g. "Asia/Shanghai". None: UTC.
    timezone: str | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"url: {self.url!r}: use the full address, e.g. https://dav.example.com/"
            )
        if parts.username or parts.password:
            raise ValueError(
                "url: contains a user name or password: put the user name in `username` "
                "and the password in password_file / password_command / password_env"
            )
        if parts.scheme == "http" and self.password is not None and not is_loopback(parts.hostname):
            raise ValueError(f"url: {self.url!r}: http would send the password in clear; use https")
        if not self.calendar.strip():
            raise ValueError('calendar: empty: name the calendar, e.g. "ghostwatch"')
        if self.timeout <= 0:
            raise ValueError(f"timeout: {self.timeout}: use a positive number of seconds")
        check_timezone(self.timezone)
