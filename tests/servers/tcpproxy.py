"""A small threaded TCP proxy on loopback that can cut connections on demand.

Used to test what a client does when the network drops in the middle of a
command: `drop_all()` cuts every open connection now, `cut_after(n)` cuts the
next connection that has carried n bytes from the server, and `refuse(True)`
makes new connections fail as if the server were unreachable.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class _Pair:
    client: socket.socket
    upstream: socket.socket
    down_bytes: int = 0  # server -> client
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, listen: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server((listen, 0))
        self.port: int = self._listener.getsockname()[1]
        self._pairs: list[_Pair] = []
        self._lock = threading.Lock()
        self._cut_after: int | None = None
        self._refusing = False
        self._stopped = threading.Event()
        self.connections = 0  # accepted so far
        self.cuts = 0  # connections cut by drop_all/cut_after
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self) -> TcpProxy:
        self._thread.start()
        return self

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def down_bytes(self) -> int:
        """Bytes carried server -> client over the open connections."""
        with self._lock:
            return sum(p.down_bytes for p in self._pairs)

    # controls ------------------------------------------------------------------

    def drop_all(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            if not pair.closed:
                self.cuts += 1
            pair.close()

    def cut_after(self, down_bytes: int | None) -> None:
        """Cut the first connection whose server->client traffic reaches down_bytes (once)."""
        self._cut_after = down_bytes

    def refuse(self, refusing: bool) -> None:
        self._refusing = refusing
        if refusing:
            self.drop_all()

    def close(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self.drop_all()
        self._thread.join(timeout=5)

    # plumbing ------------------------------------------------------------------

    def _accept_loop(self) -> None:
        self._listener.settimeout(0.1)  # so close() is noticed: accept() would block forever
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            if self._refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            pair = _Pair(client, upstream)
            with self._lock:
                self._pairs.append(pair)
                self.connections += 1
            threading.Thread(target=self._pump, args=(pair, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(pair, False), daemon=True).start()

    def _pump(self, pair: _Pair, downstream: bool) -> None:
        source, sink = (pair.upstream, pair.client) if downstream else (pair.client, pair.upstream)
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                break
            if not data:
                break
            if downstream:
                limit = self._cut_after
                if limit is not None and pair.down_bytes + len(data) >= limit:
                    # Deliver part of the chunk so the client sees a truncated response.
                    keep = max(0, limit - pair.down_bytes)
                    with contextlib.suppress(OSError):
                        sink.sendall(data[:keep])
                    self._cut_after = None
                    self.cuts += 1
                    break
                pair.down_bytes += len(data)
            try:
                sink.sendall(data)
            except OSError:
                break
        pair.close()
