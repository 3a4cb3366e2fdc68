"""A real SMTP server on loopback that keeps every message it is given.

aiosmtpd speaks SMTP for real (EHLO, MAIL FROM, RCPT TO, DATA), so a mail
client that sends to it goes through its whole send path; the sink accepts
everything and keeps the envelope and the bytes, nothing is relayed.
"""

from __future__ import annotations

import email
import threading
import time
from dataclasses import dataclass
from email.message import Message
from email.policy import default as default_policy
from typing import Any

from tests.servers import free_port


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> Message:
        return email.message_from_bytes(self.data, policy=default_policy)


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sink._add(Received(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(data)))
        return "250 OK: kept by the test sink"


class SmtpSink:
    """`start()`, then point the client at `port`; `messages` fills as mail arrives."""

    def __init__(self) -> None:
        self.port = free_port()
        self._messages: list[Received] = []
        self._lock = threading.Lock()
        self._controller: Any = None

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller  # test extra: aiosmtpd

        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _add(self, received: Received) -> None:
        with self._lock:
            self._messages.append(received)

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """The messages once at least `count` arrived; raises TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.messages
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise TimeoutError(f"the SMTP sink got {len(self.messages)} message(s), wanted {count}")
