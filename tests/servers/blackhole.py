"""A TCP path to a server that can go silent: packets vanish, no FIN, no RST.

What a Wi-Fi change or a NAT that forgot the connection looks like to a client.
A proxy cannot fake it on loopback (the kernel answers for any open socket), so
the path crosses a veth pair into a private network namespace:

    client -> 10.x.y.2:P (forwarder in the namespace) -> 10.x.y.1:Q (relay here) -> target

`blackhole()` takes the namespace's end of the link down: from then on the
client's packets go nowhere and nothing comes back. `restore()` brings it back.
Needs root and `ip` (iproute2); `available()` says whether this machine can.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.servers.tcpproxy import TcpProxy

REPO = Path(__file__).resolve().parents[2]


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


def available() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    name = f"gwprobe{os.getpid() % 100000}"
    done = subprocess.run(["ip", "netns", "add", name], capture_output=True)
    if done.returncode != 0:
        return False
    _ip("netns", "del", name, check=False)
    return True


class Blackhole:
    def __init__(self, target_host: str, target_port: int) -> None:
        tag = f"{os.getpid() % 10000}{random.randint(0, 99)}"
        self.netns = f"gwbh{tag}"
        self.outer, self.inner = f"gwbh{tag}a", f"gwbh{tag}b"
        third = random.randint(1, 250)
        fourth = random.randrange(0, 252, 4)
        self.near = f"10.213.{third}.{fourth + 1}"  # this namespace
        self.host = f"10.213.{third}.{fourth + 2}"  # where the client connects
        self.port = 0
        self._target = (target_host, target_port)
        self._relay: TcpProxy | None = None
        self._forwarder: subprocess.Popen[str] | None = None

    def start(self) -> Blackhole:
        try:
            _ip("netns", "add", self.netns)
            _ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
            _ip("link", "set", self.inner, "netns", self.netns)
            _ip("addr", "add", f"{self.near}/30", "dev", self.outer)
            _ip("link", "set", self.outer, "up")
            _ip("netns", "exec", self.netns, "ip", "addr", "add", f"{self.host}/30",
                "dev", self.inner)  # fmt: skip
            _ip("netns", "exec", self.netns, "ip", "link", "set", self.inner, "up")
            _ip("netns", "exec", self.netns, "ip", "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise
        self._relay = TcpProxy(*self._target, listen=self.near).start()
        self._forwarder = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, sys.executable, "-m", "tests.servers.blackhole",
             self.host, self.near, str(self._relay.port)],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self._forwarder.stdout is not None
        self.port = int(self._forwarder.stdout.readline())
        return self

    def blackhole(self) -> None:
        _ip("netns", "exec", self.netns, "ip", "link", "set", self.inner, "down")

    def restore(self) -> None:
        _ip("netns", "exec", self.netns, "ip", "link", "set", self.inner, "up")

    def close(self) -> None:
        if self._forwarder is not None:
            self._forwarder.kill()
            self._forwarder.wait()
        if self._relay is not None:
            self._relay.close()
        _ip("netns", "del", self.netns, check=False)
        _ip("link", "del", self.outer, check=False)

    def __enter__(self) -> Blackhole:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":  # the forwarder, inside the namespace
    listen, target_host, target_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with TcpProxy(target_host, target_port, listen=listen) as proxy:
        print(proxy.port, flush=True)
        while True:
            time.sleep(3600)
