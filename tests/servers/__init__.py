"""Real servers started on loopback for tests: Dovecot IMAP and a cuttable TCP proxy.

Nothing here mocks a protocol; the helpers start the real thing in a temp dir
and stop it again.
"""

from __future__ import annotations

import os
import socket


def servers_required() -> bool:
    """CI sets GHOSTWATCH_REQUIRE_SERVERS=1: a missing server is then a failure, not a skip."""
    return os.environ.get("GHOSTWATCH_REQUIRE_SERVERS", "") not in ("", "0")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
