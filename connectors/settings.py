"""Shapes every connector's Settings share: what a connector author reuses.

A Settings class is a frozen dataclass of simple types (the config loader
fills and documents it); these helpers keep the same check worded the same
way in every connector.
"""

from __future__ import annotations

import ipaddress
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def is_loopback(host: str) -> bool:
    """True for loopback literals and `localhost` names; no DNS lookup on purpose.

    A name that merely resolves to 127.0.0.1 today could resolve elsewhere
    tomorrow, so only what is loopback by definition counts.
    """
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_timezone(value: str | None) -> None:
    """ValueError naming the `timezone` setting unless `value` is None or a zone name."""
    if value is None:
        return
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone: {value!r}: use a zone name such as 'Asia/Shanghai'") from None
