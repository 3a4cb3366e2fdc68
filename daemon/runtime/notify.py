"""sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET per message.

Every function is a no-op when systemd did not ask for notifications, so the
daemon calls them unconditionally. A failed send is logged at debug and
otherwise ignored: losing a STATUS line must never stop the daemon.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def _address() -> str | None:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return None
    if address.startswith("@"):  # abstract namespace: a leading NUL on the wire
        return "\0" + address[1:]
    return address


def notify(*fields: str) -> bool:
    """Send `KEY=value` fields in one datagram; True if systemd got it."""
    address = _address()
    if address is None:
        return False
    # A STATUS line must stay one line; systemd reads the datagram as KEY=value lines.
    payload = "\n".join(f.replace("\n", " ") for f in fields).encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(payload)
    except OSError as exc:
        log.debug("sd_notify failed: %s", exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WatchdogSec), None if not watched."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None  # meant for another process (we were started by a wrapper)
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2e6 if value > 0 else None
