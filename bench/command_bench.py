"""Whole-command benchmark: `ghostwatch` as the user runs it, timed from process start to exit.

`bench/run` times the sync phase inside one process; this times the commands
as subprocesses (interpreter start, imports, config, database creation or
schema check, login, sync, every classification, exit) on the same private
Dovecot and generated mailbox, and prints figures and ratios measured in one run:

- first `ghostwatch sync` into a fresh database against a warm imapclient FETCH
  of the same header fields (the reference phase of sync_bench, in its own
  process, timed around the FETCH only): target >= 0.8x its throughput;
- a quiet `ghostwatch sync` (nothing changed on the server) against a quiet
  re-sync by `mbsync` (isync) of the same mailbox: target <= 1.5x;
- `ghostwatch --help` < 0.15 s, `status` < 0.25 s on an empty and on the
  synced database.

Repeated measurements report the median; the machine is shared, so the load
average is printed with the figures. Like sync_bench it exits 0 whatever the
figures are. `--tree PATH` runs the commands of another checkout (before/after).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.generate import INTERNAL_DOMAIN, NOW, OWN_ADDR

REPO = Path(__file__).resolve().parent.parent
PASSWORD_ENV = "GW_BENCH_PASSWORD"
REPEATS = 5
STATUS_TIMEOUT = 120.0  # main's status on a 100k database took far longer (a scan per thread)

TARGET_FIRST_RATIO = 0.8
TARGET_QUIET_VS_MBSYNC = 1.5
TARGET_HELP_S = 0.15
TARGET_STATUS_S = 0.25

_CONFIG = """\
[daemon]
database = "sqlite:///{db}"
lookback = "{lookback_days}d"

[policy]
timezone = "UTC"
internal_domains = ["{internal}"]

[[accounts]]
name = "bench"
address = "{own}"

[accounts.mail]
type = "imap"
host = "127.0.0.1"
port = {port}
security = "plain"
username = "{user}"
password_env = "{password_env}"
timeout = 300.0
"""

_MBSYNC = """\
IMAPAccount bench
Host 127.0.0.1
Port {port}
User {user}
Pass {password}
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel bench
Far :remote:
Near :local:
Patterns *
Create Near
Sync Pull
SyncState *
"""


@dataclass
class Commands:
    """How to start `ghostwatch` from a given checkout, with the bench config."""

    tree: Path
    config: Path
    password: str
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = dict(os.environ, PYTHONPATH=str(self.tree), **{PASSWORD_ENV: self.password})
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)

    def argv(self, *args: str) -> list[str]:
        # What the `ghostwatch` console script does, from this tree.
        # (A tree from before daemon/ became packages has its main in daemon/cli.py.)
        entry = (
            "import sys\ntry:\n from daemon.cli.main import main\n"
            "except ImportError:\n from daemon.cli import main\nsys.exit(main())"
        )
        return [sys.executable, "-c", entry, "--config", str(self.config), *args]

    def time(self, *args: str, now: bool = True, timeout: float | None = None) -> tuple[float, str]:
        """Wall time of one run, start to exit (inf past `timeout`); raises when it fails."""
        argv = self.argv(*(("--now", NOW.isoformat()) if now else ()), *args)
        t0 = time.perf_counter()
        try:
            # cwd: `python -c` puts the current directory first on sys.path, before PYTHONPATH.
            done = subprocess.run(
                argv, env=self.env, cwd=self.tree, capture_output=True, text=True, check=False,
                timeout=timeout,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return float("inf"), ""
        seconds = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"ghostwatch {' '.join(args)} exited {done.returncode}:\n"
                               f"{done.stderr[-2000:]}")  # fmt: skip
        return seconds, done.stdout + done.stderr


def write_config(path: Path, db: Path, port: int, user: str, lookback_days: int) -> Path:
    path.write_text(
        _CONFIG.format(
            db=db, port=port, user=user, own=OWN_ADDR, internal=INTERNAL_DOMAIN,
            password_env=PASSWORD_ENV, lookback_days=lookback_days,
        ),
        encoding="utf-8",
    )  # fmt: skip
    return path


@dataclass
class Mbsync:
    """mbsync pulling the same mailbox into a local Maildir; time() is one quiet re-sync."""

    argv: list[str]
    full: float = 0.0  # the first, complete pull (untimed in the figures)

    @classmethod
    def setup(cls, workdir: Path, port: int, user: str, password: str) -> Mbsync | None:
        binary = shutil.which("mbsync")
        if binary is None:
            return None
        local = workdir / "mbsync-maildir"
        local.mkdir(parents=True, exist_ok=True)
        rc = workdir / "mbsyncrc"
        rc.write_text(_MBSYNC.format(port=port, user=user, password=password, local=local))
        rc.chmod(0o600)
        runner = cls([binary, "-c", str(rc), "-q", "bench"])
        runner.full = runner.time()[0]
        return runner

    def time(self, *_args: str, timeout: float | None = None) -> tuple[float, str]:
        t0 = time.perf_counter()
        subprocess.run(self.argv, check=True, capture_output=True, timeout=timeout)
        return time.perf_counter() - t0, ""


def alternate(
    runs: Sequence[Commands | Mbsync],
    args: tuple[str, ...],
    repeats: int,
    timeout: float | None = None,
) -> list[tuple[float, list[float]]]:
    """(median, times) per Commands, the trees taking turns run by run.

    On a shared machine the load drifts within a minute; taking turns puts the
    same drift on every tree. One untimed run each first (cold caches, .pyc
    writes); a tree whose untimed run passed `timeout` is not repeated.
    """
    alive = [c.time(*args, timeout=timeout)[0] != float("inf") for c in runs]
    times: list[list[float]] = [[] if ok else [float("inf")] for ok in alive]
    for _ in range(repeats):
        for i, c in enumerate(runs):
            if alive[i]:
                times[i].append(c.time(*args, timeout=timeout)[0])
    return [(statistics.median(t), t) for t in times]


def run_commands(
    server: Any, user: Any, workdir: Path, lookback_days: int, trees: list[Path], log: Any
) -> list[dict[str, Any]]:
    """Every whole-command phase on one mailbox, for each tree; returns the raw figures."""
    from tests.servers.dovecot import PASSWORD

    empty: list[Commands] = []
    big: list[Commands] = []
    for tree in trees:
        root = workdir / f"commands-{tree.name}"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        for name, into in (("empty", empty), ("big", big)):
            config = write_config(root / f"{name}.toml", root / f"{name}.db", server.port,
                                  user.name, lookback_days)  # fmt: skip
            into.append(Commands(tree, config, PASSWORD))
    out: list[dict[str, Any]] = [{"tree": str(tree)} for tree in trees]
    log("commands: mbsync, a full pull of the mailbox (untimed)")
    mbsync = Mbsync.setup(workdir / "mbsync", server.port, user.name, PASSWORD)
    log("commands: --help")
    for res, fig in zip(out, alternate(empty, ("--help",), REPEATS), strict=True):
        res["help"] = fig
    log("commands: status on an empty database")
    for res, fig in zip(out, alternate(empty, ("status",), REPEATS), strict=True):
        res["status_empty"] = fig
    for res, cmds in zip(out, big, strict=True):
        log(f"commands from {cmds.tree}: first sync into a fresh database")
        seconds, text = cmds.time("sync")
        res["first_sync"] = {"seconds": seconds, "output": text.strip().splitlines()[-3:]}
        log(f"commands: first sync took {seconds:.1f}s; the next sync")
        res["second_sync"] = cmds.time("sync")[0]
    log("commands: quiet sync, taking turns with mbsync's quiet re-sync")
    quiet = alternate([*big, *([mbsync] if mbsync else [])], ("sync",), REPEATS)
    for res, fig in zip(out, quiet[: len(out)], strict=True):
        res["quiet_sync"] = fig
        res["mbsync"] = (
            None
            if mbsync is None
            else {"full": mbsync.full, "median": quiet[-1][0], "times": quiet[-1][1]}
        )
    log("commands: status on the synced database")
    for res, fig in zip(out, alternate(big, ("status",), 3, STATUS_TIMEOUT), strict=True):
        res["status_big"] = fig
    # What a user of the daemon meets: `run` has decided every thread (here `once
    # --dry-run`: sync and decide, nothing written to the mailbox), then `status`.
    for res, cmds in zip(out, big, strict=True):
        log(f"commands from {cmds.tree}: once --dry-run (decides every thread)")
        res["decide"] = cmds.time("once", "--dry-run", timeout=STATUS_TIMEOUT * 5)[0]
    log("commands: status after the decision")
    for res, fig in zip(out, alternate(big, ("status",), REPEATS, STATUS_TIMEOUT), strict=True):
        res["status_decided"] = fig
    for res in out:
        res["load"] = os.getloadavg()[0]
    return out


def _fmt_times(times: list[float]) -> str:
    return " ".join(f"{t:.2f}" if t != float("inf") else f">{STATUS_TIMEOUT:.0f}" for t in times)


def report_lines(res: dict[str, Any]) -> list[str]:
    ref = res["reference"]
    ref_rate = ref["messages"] / ref["seconds"]
    first = res["first_sync"]["seconds"]
    first_rate = ref["messages"] / first
    ratio = first_rate / ref_rate
    quiet, quiet_times = res["quiet_sync"]
    help_s, help_times = res["help"]
    st_empty, st_empty_times = res["status_empty"]
    st_big, st_big_times = res["status_big"]
    st_dec, st_dec_times = res["status_decided"]

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    rows: list[tuple[str, str, str, str]] = [
        ("reference: warm imapclient FETCH of the same fields (mean of 2)",
         f"{ref_rate:,.0f} msg/s ({ref['messages']:,} in {ref['seconds']:.1f}s; "
         + " / ".join(f"{t:.1f}s" for t in ref.get("both", ())) + ")", "", ""),
        ("first `ghostwatch sync`, whole command, fresh database",
         f"{first_rate:,.0f} msg/s ({first:.1f}s)", "", ""),
        ("  ratio first sync / reference", f"{ratio:.2f}", f">= {TARGET_FIRST_RATIO}",
         verdict(ratio >= TARGET_FIRST_RATIO)),
        ("the sync right after it", f"{res['second_sync']:.2f}s", "", ""),
        (f"quiet `ghostwatch sync` (median of {len(quiet_times)})",
         f"{quiet:.2f}s ({_fmt_times(quiet_times)})", "", ""),
    ]  # fmt: skip
    mb = res["mbsync"]
    if mb is None:
        rows.append(("quiet `mbsync` re-sync", "mbsync not installed (Debian: isync)", "", ""))
    else:
        q_ratio = quiet / mb["median"]
        rows += [
            (f"quiet `mbsync` re-sync (median of {len(mb['times'])})",
             f"{mb['median']:.2f}s ({_fmt_times(mb['times'])}); full pull {mb['full']:.1f}s",
             "", ""),
            ("  ratio quiet sync / mbsync", f"{q_ratio:.2f}", f"<= {TARGET_QUIET_VS_MBSYNC}",
             verdict(q_ratio <= TARGET_QUIET_VS_MBSYNC)),
        ]  # fmt: skip
    rows += [
        (f"`ghostwatch --help` (median of {len(help_times)})",
         f"{help_s:.3f}s ({_fmt_times(help_times)})", f"< {TARGET_HELP_S}",
         verdict(help_s < TARGET_HELP_S)),
        (f"`status`, empty database (median of {len(st_empty_times)})",
         f"{st_empty:.3f}s ({_fmt_times(st_empty_times)})", f"< {TARGET_STATUS_S}",
         verdict(st_empty < TARGET_STATUS_S)),
        (f"`status`, synced database (median of {len(st_big_times)})",
         (f"{st_big:.3f}s" if st_big != float("inf") else f"more than {STATUS_TIMEOUT:.0f}s")
         + f" ({_fmt_times(st_big_times)})", f"< {TARGET_STATUS_S}",
         verdict(st_big < TARGET_STATUS_S)),
        ("`once --dry-run` (syncs, then decides every thread)",
         f"{res['decide']:.2f}s", "", ""),
        (f"`status` after that decision (median of {len(st_dec_times)})",
         (f"{st_dec:.3f}s" if st_dec != float("inf") else f"more than {STATUS_TIMEOUT:.0f}s")
         + f" ({_fmt_times(st_dec_times)})", f"< {TARGET_STATUS_S}",
         verdict(st_dec < TARGET_STATUS_S)),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows) + 2
    vwidth = max(len(r[1]) for r in rows) + 2
    lines = [f"whole commands (subprocesses, start to exit), tree {res['tree']}; "
             f"load average {res['load']:.1f} at the end"]  # fmt: skip
    lines.append(f"{'figure':<{width}}{'measured':<{vwidth}}{'target':<11}result")
    lines += [f"{a:<{width}}{b:<{vwidth}}{c:<11}{d}" for a, b, c, d in rows]
    lines.append("first sync said: " + " | ".join(res["first_sync"]["output"]))
    return lines


def main_commands(
    args: Any, server: Any, user: Any, workdir: Path, log: Any
) -> list[dict[str, Any]]:
    """The reference FETCH (a sync_bench child), mbsync, then the commands of each tree.

    Several `--tree`s share the mailbox, the reference and mbsync, so a before/after
    comparison is measured in one run; trees alternate with nothing else in between.
    """
    from bench.sync_bench import LOOKBACK, run_child
    from tests.servers.dovecot import PASSWORD

    job = {"port": server.port, "user": user.name, "password": PASSWORD, "chunk": args.chunk}
    log("commands: reference FETCH through imapclient")
    before = run_child("fetch", **job, parse=True)
    trees = [Path(t).resolve() for t in (args.tree or [REPO])]
    results = run_commands(server, user, workdir, LOOKBACK.days, trees, log)
    log("commands: reference FETCH again (after)")
    after = run_child("fetch", **job, parse=True)
    reference = {
        "messages": before["messages"],
        "seconds": (before["seconds"] + after["seconds"]) / 2,
        "both": (before["seconds"], after["seconds"]),
    }
    for res in results:
        res["reference"] = reference
        print()
        print("\n".join(report_lines(res)))
    return results
