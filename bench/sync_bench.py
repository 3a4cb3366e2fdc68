"""Sync benchmark: ghostwatch's IMAP sync against a private Dovecot, with figures and targets.

Run as root (Dovecot's mail processes need a `vmail` user): `bench/run [--messages 100000]`.

What happens, in order:
1. a private Dovecot starts in a temp dir (tests/servers/dovecot.py);
2. three mailboxes are generated as Maildir files (1k, 10k and --messages),
   chowned to the mail user, and each folder is STATUSed, SELECTed and its
   header fields FETCHed once *before anything is timed*: that first access
   builds Dovecot's index and cache, which a real server has long done;
3. every measured phase runs in a fresh Python subprocess (so each peak RSS
   is that phase's alone, and no phase warms another's caches):
   bytes-only FETCH, imapclient FETCH, first sync, imapclient FETCH again,
   no-change sync, and a profiled first sync into a second fresh database.

The figures are printed as a table with targets and PASS/MISS; the exit code
is 0 unless something crashed, because this is a measurement, not a gate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.command_bench import main_commands
from bench.generate import DAYS, INTERNAL_DOMAIN, NOW, OWN_ADDR, Summary, generate

REPO = Path(__file__).resolve().parent.parent
PASSWORD_ENV = "GW_BENCH_PASSWORD"
LOOKBACK = timedelta(days=DAYS + 10)  # every generated message is inside the window
RESULT = "BENCH-RESULT "
NOCHANGE_REPEATS = 5

# Targets from the issue (part 10).
TARGET_RATIO = 0.8
TARGET_RSS_MB = 200.0
TARGET_RSS_GROWTH = 0.30
TARGET_CMDS_PER_FOLDER = 1
TARGET_NOCHANGE_RATIO = 1.5


# --- child side: one measured phase per process -------------------------------------


def _memory_kb() -> dict[str, int]:
    """VmRSS and VmHWM (peak) of this process, in kB."""
    found: dict[str, int] = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found


def _cpu() -> float:
    """CPU seconds of this process: unlike wall time, barely moved by other load on the box."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _settings(port: int, user: str) -> Any:
    from connectors.imap import Settings
    from connectors.secrets import SecretSource

    return Settings(
        host="127.0.0.1",
        username=user,
        password=SecretSource(env=PASSWORD_ENV),
        port=port,
        security="plain",
        timeout=300.0,
    )


def _fetch_items() -> list[str]:
    """The items the connector's first scan asks for (ImapMailbox._prepare), same order."""
    from daemon.ingest.mail import header_fields

    fields = " ".join(f.upper() for f in header_fields())
    return ["UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", f"BODY.PEEK[HEADER.FIELDS ({fields})]"]


def _watched_folders(client: Any) -> list[str]:
    """The folders a scope="all" sync reads, decided by the connector's own rules."""
    from connectors.imap import folders as rules

    listed = [
        rules.ListedFolder(
            name=name if isinstance(name, str) else name.decode(),
            flags=frozenset(f.decode().lower() for f in flags),
            delimiter=delim.decode() if isinstance(delim, bytes) else delim,
        )
        for flags, delim, name in client.list_folders()
    ]
    watched = rules.watched(
        rules.assign_roles(listed), include=None, exclude=(), inbound_only=False
    )
    return [f.name for f in watched]


def child_fetch(job: dict[str, Any]) -> dict[str, Any]:
    """The reference: a bare header FETCH of what the sync reads, no ghostwatch code timed.

    Same folders, same SEARCH SINCE, same 500-UID chunks as compact sequence-sets,
    same items. parse=True goes through imapclient's response parser (the reference
    the target is set against); parse=False only reads the bytes through imaplib.
    """
    from imapclient import IMAPClient

    from connectors.imap.cursor import compact

    items = _fetch_items()
    client = IMAPClient("127.0.0.1", port=job["port"], ssl=False, timeout=300)
    client.normalise_times = False
    client.login(job["user"], os.environ[PASSWORD_ENV])
    since = (NOW - LOOKBACK - timedelta(days=1)).date()
    per_folder: dict[str, int] = {}
    wire_bytes = 0
    t0, c0 = time.perf_counter(), _cpu()
    for folder in _watched_folders(client):
        client.select_folder(folder, readonly=True)
        uids = sorted(client.search(["SINCE", since]))
        got = 0
        for start in range(0, len(uids), job["chunk"]):
            chunk = uids[start : start + job["chunk"]]
            if job["parse"]:
                # imapclient 4 takes a UID list, not a sequence-set: the command text
                # is longer than the connector's, which costs the server nothing measurable.
                got += len(client.fetch(chunk, items))
            else:
                _typ, data = client._imap.uid("FETCH", compact(chunk), "(" + " ".join(items) + ")")
                for part in data:
                    if isinstance(part, tuple):
                        got += 1
                        wire_bytes += len(part[0]) + len(part[1])
        per_folder[folder] = got
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    client.logout()
    return {
        "messages": sum(per_folder.values()),
        "per_folder": per_folder,
        "seconds": seconds,
        "cpu": cpu,
        "bytes": wire_bytes,
        **_memory_kb(),
    }


def _open(job: dict[str, Any]) -> tuple[Any, Any, Any]:
    from connectors.imap import open_mailbox
    from daemon.config.identity import Identity
    from daemon.db.engine import Store

    store = Store(f"sqlite:///{job['db']}")
    source = open_mailbox(_settings(job["port"], job["user"]))
    source.open()  # login outside the timed part, as the daemon keeps its connection
    me = Identity(own=frozenset({OWN_ADDR}), internal_domains=(INTERNAL_DOMAIN,))
    return store, source, me


def _stats(source: Any) -> dict[str, Any]:
    stats = source.stats
    return {
        "per_folder": dict(stats.per_folder),
        "account": stats.account,
        "reconnects": stats.reconnects,
    }


def child_sync(job: dict[str, Any]) -> dict[str, Any]:
    """First sync into a fresh database; optionally under cProfile."""
    from sqlalchemy import func, select

    from daemon.db.tables import Message
    from daemon.ingest.mail import sync_mail

    store, source, me = _open(job)
    rss_ready = _memory_kb()["VmRSS"]  # interpreter + imports + store + connection
    last_batch = [0.0]

    def progress(_batch: Any) -> None:
        last_batch[0] = time.perf_counter()

    profiler = None
    if job.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0, c0 = time.perf_counter(), _cpu()
    report = sync_mail(store, "bench", OWN_ADDR, source, me, NOW, LOOKBACK, progress=progress)
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(job["profile"])
    stats = _stats(source)
    memory = _memory_kb()
    with store.reader() as s:
        kinds = dict(s.execute(select(Message.kind, func.count()).group_by(Message.kind)).all())
        pending = s.scalar(select(func.count()).where(Message.needs_body.is_(True)))
    source.close()
    store.close()
    return {
        "new": report.new,
        "skipped": report.skipped,
        "bodies": report.bodies,
        "batches": report.batches,
        "seconds": seconds,
        "cpu": cpu,
        "ingest_seconds": (last_batch[0] - t0) if last_batch[0] else seconds,
        "stats": stats,
        "kinds": kinds,
        "pending_bodies": pending,
        "rss_ready_kb": rss_ready,
        **memory,
    }


def child_nochange(job: dict[str, Any]) -> dict[str, Any]:
    """The sync right after the first one, then settled no-change syncs.

    The first sync used to read at most 500 suspected bounce/auto-reply
    bodies, so the next few cycles still have body work left; those are run and
    reported first. The no-change figure is taken once nothing at all is left.
    """
    from daemon.ingest.mail import sync_mail

    store, source, me = _open(job)

    cpu: list[float] = []

    def once() -> tuple[float, Any, dict[str, Any]]:
        t0, c0 = time.perf_counter(), _cpu()
        report = sync_mail(store, "bench", OWN_ADDR, source, me, NOW, LOOKBACK)
        seconds = time.perf_counter() - t0
        cpu.append(_cpu() - c0)
        return seconds, report, _stats(source)

    seconds, report, stats = once()
    immediate = {"seconds": seconds, "new": report.new, "bodies": report.bodies, "stats": stats}
    settling = 0
    while report.bodies or report.new:
        settling += 1
        if settling > 50:
            raise RuntimeError("the mailbox never became quiet (50 syncs)")
        _, report, _ = once()
    times: list[float] = []
    runs: list[dict[str, Any]] = []
    for _ in range(NOCHANGE_REPEATS):
        seconds, report, stats = once()
        times.append(seconds)
        runs.append({"new": report.new, "bodies": report.bodies, "gone": report.gone,
                     "retagged": report.retagged, "stats": stats})  # fmt: skip
    source.close()
    store.close()
    return {
        "immediate": immediate,
        "settling_syncs": settling,
        "times": times,
        "median": statistics.median(times),
        "cpu_median": statistics.median(cpu[-NOCHANGE_REPEATS:]),
        "runs": runs,
        **_memory_kb(),
    }


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "fetch": child_fetch,
    "sync": child_sync,
    "nochange": child_nochange,
}


# --- parent side: server, mailboxes, phases --------------------------------------------


def run_child(phase: str, **job: Any) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(REPO), **{PASSWORD_ENV: job.pop("password")})
    done = subprocess.run(
        [sys.executable, "-m", "bench.sync_bench", "--child", phase, json.dumps(job)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"phase {phase} crashed (exit {done.returncode}); see stderr above")
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT):
            return dict(json.loads(line[len(RESULT) :]))
    raise RuntimeError(f"phase {phase} printed no result")


def warm_up(user: Any) -> tuple[float, dict[str, int]]:
    """The first access to each folder: Dovecot builds its index and header cache here.

    A real server indexed its mail as it arrived; doing this before timing means
    neither the reference FETCH nor the sync pays for it.
    """
    items = _fetch_items()
    counts: dict[str, int] = {}
    t0 = time.perf_counter()
    with user.client() as client:
        client._imap.sock.settimeout(600)
        for flags, _, name in client.list_folders():
            folder = name if isinstance(name, str) else name.decode()
            if any(f.lower() == b"\\noselect" for f in flags):
                continue
            client.folder_status(folder, ["MESSAGES", "UIDNEXT", "UIDVALIDITY", "HIGHESTMODSEQ"])
            info = client.select_folder(folder, readonly=True)
            counts[folder] = int(info[b"EXISTS"])
            if counts[folder]:
                client._imap.uid("FETCH", "1:*", "(" + " ".join(items) + ")")
            client.unselect_folder()
    return time.perf_counter() - t0, counts


def build_mailbox(server: Any, size: int, log: Callable[[str], None]) -> tuple[Any, Summary]:
    from tests.servers.dovecot import MAIL_USER

    user = server.add_user(f"bench{size}-")
    home = server.root / "mail" / user.name
    t0 = time.perf_counter()
    summary = generate(home / "Maildir", size)
    subprocess.run(["chown", "-R", f"{MAIL_USER}:{MAIL_USER}", str(home)], check=True)
    generated = time.perf_counter() - t0
    indexed, counts = warm_up(user)
    log(
        f"mailbox {size:,}: written in {generated:.1f}s ({summary.bytes / 1e6:.0f} MB); "
        f"first access (index + header cache) {indexed:.1f}s, not timed; folders {counts}"
    )
    return user, summary


def mb(kb: float) -> float:
    return kb / 1024


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# --- profile -------------------------------------------------------------------------------

# (label, path suffix of the file, function name); cumulative times, so nested rows overlap.
_STAGES: tuple[tuple[str, str, str], ...] = (
    ("sync_mail total", "daemon/ingest/mail.py", "sync_mail"),
    ("connector generator (ImapMailbox._sync)", "connectors/imap/source.py", "_sync"),
    ("  UID FETCH total (Wire.fetch)", "connectors/imap/client.py", "fetch"),
    ("    read the response off the socket (read_tagged)", "imap/fetchparse.py", "read_tagged"),
    ("    parse the FETCH responses (parse_fetches)", "imap/fetchparse.py", "parse_fetches"),
    (
        "      imapclient parse_fetch_response (fallback only)",
        "imapclient/response_parser.py",
        "parse_fetch_response",
    ),
    ("  to_message (normalize)", "connectors/imap/normalize.py", "to_message"),
    ("    parse_header_block (header parsing)", "connectors/headers.py", "parse_header_block"),
    ("ingest: apply_batch", "daemon/ingest/store_batch.py", "apply_batch"),
    ("  classify, header pass (classify_fields)", "daemon/ingest/verdicts.py", "classify_fields"),
    ("  link_threads", "daemon/ingest/mail_threads.py", "link_threads"),
    ("  _known_refs (lookups of the batch's refs)", "daemon/ingest/store_batch.py", "_known_refs"),
    ("  ORM: Session.flush", "sqlalchemy/orm/session.py", "flush"),
    ("refine_bodies (body fetch + classify)", "daemon/ingest/mail_bodies.py", "refine_bodies"),
)


def _module_of(filename: str) -> str:
    """A readable module name: project modules dotted, libraries by top package."""
    if filename in ("~", "") or filename.startswith("<"):
        return "<builtin>"
    path = Path(filename)
    try:
        rel = path.resolve().relative_to(REPO)
        if rel.parts[0] != ".venv":
            return ".".join(rel.with_suffix("").parts)
    except ValueError:
        pass
    parts = path.parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    # stdlib: keep the package (email.*, sqlite3.*) or the module
    for i, part in enumerate(parts):
        if part.startswith("python3"):
            tail = parts[i + 1 :]
            return tail[0].removesuffix(".py") if tail else filename
    return path.stem


def profile_breakdown(path: Path, size: int, run: dict[str, Any]) -> list[str]:
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    total = 0.0
    cumulative: dict[tuple[str, str], float] = defaultdict(float)
    own: dict[str, float] = defaultdict(float)
    for (filename, _line, func), (_cc, _nc, tt, ct, callers) in stats.items():
        total += tt
        cumulative[(filename, func)] = max(cumulative[(filename, func)], ct)
        module = _module_of(filename)
        if module == "<builtin>" and callers:
            # C functions (socket reads, sqlite3, regex) count for the module that called them.
            for (c_file, _c_line, _c_func), caller_times in callers.items():
                own[_module_of(c_file)] += caller_times[2]
        else:
            own[module] += tt
    lines = [f"profiled first sync of the {size:,} mailbox: {run['seconds']:.1f}s under "
             f"cProfile ({total:.1f}s profiled); profiling inflates Python-heavy code more "
             "than C calls, so read the shares, not the seconds"]  # fmt: skip
    lines.append("  stage (cumulative; nested rows are part of the row above)   seconds   share")
    base = next(
        (
            ct
            for (f, fn), ct in cumulative.items()
            if f.endswith("daemon/ingest/mail.py") and fn == "sync_mail"
        ),
        total,
    )
    for label, suffix, func in _STAGES:
        ct = max(
            (ct for (f, fn), ct in cumulative.items() if f.endswith(suffix) and fn == func),
            default=0.0,
        )
        lines.append(f"  {label:<60} {ct:7.2f}  {ct / base:6.1%}")
    lines.append(
        "  top 15 modules by own time (C calls counted for their caller)   seconds   share"
    )
    for module, tt in sorted(own.items(), key=lambda kv: -kv[1])[:15]:
        lines.append(f"  {module:<60} {tt:7.2f}  {tt / total:6.1%}")
    return lines


# --- the run ---------------------------------------------------------------------------------


def main_parent(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("run as root: Dovecot's mail processes need the vmail user (see bench/README.md)")
        return 2
    from tests.servers.dovecot import PASSWORD, Dovecot

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="gw-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {msg}", flush=True)

    server = Dovecot(workdir / "dovecot").start()
    try:
        version = subprocess.run(
            ["dovecot", "--version"], capture_output=True, text=True, check=False
        ).stdout.split()[0]
        log(f"Dovecot {version} on 127.0.0.1:{server.port}, work dir {workdir}")
        n = args.messages
        sizes = sorted({1000, 10_000, n, *([args.profile_messages] if args.profile else [])})
        if args.commands_only:
            sizes = [n]
        users: dict[int, Any] = {}
        summaries: dict[int, Summary] = {}
        for size in sizes:
            users[size], summaries[size] = build_mailbox(server, size, log)

        def job(size: int, **extra: Any) -> dict[str, Any]:
            return {"port": server.port, "user": users[size].name, "password": PASSWORD, **extra}

        if args.commands_only:
            main_commands(args, server, users[n], workdir, log)
            log("done")
            return 0
        results: dict[str, Any] = {}
        for size in (size for size in (1000, 10_000) if size != n):
            db = workdir / f"db-{size}" / "gw.db"
            log(f"{size:,}: first sync")
            results[f"sync{size}"] = run_child("sync", **job(size, db=str(db)))
            log(f"{size:,}: no-change sync")
            results[f"nochange{size}"] = run_child("nochange", **job(size, db=str(db)))
        log(f"{n:,}: reference FETCH, bytes only")
        raw = run_child("fetch", **job(n, parse=False, chunk=args.chunk))
        log(f"{n:,}: reference FETCH through imapclient (before the sync)")
        before = run_child("fetch", **job(n, parse=True, chunk=args.chunk))
        log(f"{n:,}: first sync (measured)")
        sync = run_child("sync", **job(n, db=str(workdir / "db-main" / "gw.db")))
        log(f"{n:,}: reference FETCH through imapclient (after the sync)")
        after = run_child("fetch", **job(n, parse=True, chunk=args.chunk))
        log(f"{n:,}: no-change sync")
        nochange = run_child("nochange", **job(n, db=str(workdir / "db-main" / "gw.db")))
        results[f"sync{n}"], results[f"nochange{n}"] = sync, nochange
        loads = (load_before, os.getloadavg()[0])
        elapsed = time.perf_counter() - started
        print_report(args, summaries, results, raw, before, sync, after, version, elapsed, loads)
        main_commands(args, server, users[n], workdir, log)
        if args.profile:
            size = args.profile_messages
            log(f"{size:,}: first sync under cProfile (fresh database)")
            prof = workdir / "first-sync.prof"
            profiled = run_child(
                "sync", **job(size, db=str(workdir / "db-prof" / "gw.db"), profile=str(prof))
            )
            print()
            print("\n".join(profile_breakdown(prof, size, profiled)))
        log("done")
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}")
    return 0


def _cmds(run: dict[str, Any]) -> dict[str, int]:
    return dict(run["stats"]["per_folder"])


def print_report(
    args: argparse.Namespace,
    summaries: dict[int, Summary],
    results: dict[str, Any],
    raw: dict[str, Any],
    before: dict[str, Any],
    sync: dict[str, Any],
    after: dict[str, Any],
    version: str,
    elapsed: float,
    loads: tuple[float, float],
) -> None:
    n = args.messages
    s = summaries[n]
    nochange = results[f"nochange{n}"]
    rate = sync["new"] / sync["seconds"]
    ingest_rate = sync["new"] / sync["ingest_seconds"]
    ref_seconds = (before["seconds"] + after["seconds"]) / 2
    ref_cpu = (before["cpu"] + after["cpu"]) / 2
    ref_rate = before["messages"] / ref_seconds
    raw_rate = raw["messages"] / raw["seconds"]
    ratio = rate / ref_rate
    cpu_ratio = ref_cpu / sync["cpu"]
    peak, peak10k = sync["VmHWM"], results["sync10000"]["VmHWM"]
    growth = peak / peak10k - 1
    quiet = nochange["runs"][-1]
    quiet_cmds = _cmds(quiet)
    worst = max(quiet_cmds.values(), default=0)
    small_quiet = results["nochange1000"]["median"]
    nc_ratio = nochange["median"] / small_quiet
    print()
    print(
        f"ghostwatch sync benchmark, {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"Dovecot {version}; load average {loads[0]:.1f} at start, {loads[1]:.1f} at end"
    )
    print(
        f"mailbox: {s.messages:,} messages ({s.bytes / 1e6:.0f} MB), "
        + ", ".join(f"{k} {v:,}" for k, v in s.per_folder.most_common())
        + f"; {s.contacts:,} contacts, {s.threads:,} outreach threads, "
        f"{s.replied_threads:,} replied"
    )
    print("kinds written: " + ", ".join(f"{k} {v:,}" for k, v in s.per_kind.most_common()))
    print("kinds stored:  " + ", ".join(f"{k} {v:,}" for k, v in sorted(sync["kinds"].items())))
    print()
    sizes = sorted({1000, 10_000, n})
    per_msg = {size: results[f"sync{size}"]["cpu"] / size * 1e6 for size in sizes}
    rows: list[tuple[str, str, str, str]] = [
        ("(a) reference FETCH, bytes only (imaplib)",
         f"{raw_rate:,.0f} msg/s ({raw['seconds']:.1f}s, cpu {raw['cpu']:.1f}s)", "", ""),
        ("    reference FETCH via imapclient (mean of 2)",
         f"{ref_rate:,.0f} msg/s ({before['seconds']:.1f}s / {after['seconds']:.1f}s, "
         f"cpu {ref_cpu:.1f}s)", "", ""),
        ("    first sync (sync_mail, fresh SQLite)",
         f"{rate:,.0f} msg/s ({sync['new']:,} in {sync['seconds']:.1f}s, cpu {sync['cpu']:.1f}s)",
         "", ""),
        ("      of which header batches / body refine",
         f"{ingest_rate:,.0f} msg/s / {sync['seconds'] - sync['ingest_seconds']:.1f}s "
         f"({sync['bodies']} bodies)", "", ""),
        ("      client CPU per message at " + " / ".join(f"{k:,}" for k in per_msg),
         " / ".join(f"{v:,.0f} us" for v in per_msg.values()), "", ""),
        ("    ratio first sync / imapclient FETCH", f"{ratio:.2f}",
         f">= {TARGET_RATIO}", verdict(ratio >= TARGET_RATIO)),
        ("    same ratio by client CPU time (load-proof)", f"{cpu_ratio:.2f}", "", ""),
        (f"(b) peak RSS, first sync at {n:,}", f"{mb(peak):.0f} MB",
         f"< {TARGET_RSS_MB:.0f} MB", verdict(mb(peak) < TARGET_RSS_MB)),
        ("    peak RSS, first sync at 10,000 / 1,000",
         f"{mb(peak10k):.0f} MB / {mb(results['sync1000']['VmHWM']):.0f} MB", "", ""),
        ("    RSS before syncing (imports, store, login)",
         f"{mb(sync['rss_ready_kb']):.0f} MB", "", ""),
        (f"    growth 10,000 -> {n:,}", f"{growth:+.0%}",
         f"< {TARGET_RSS_GROWTH:.0%}", verdict(growth < TARGET_RSS_GROWTH)),
        ("(c) no-change sync: IMAP commands per folder",
         f"max {worst} (" + ", ".join(f"{k} {v}" for k, v in quiet_cmds.items()) + ")",
         f"<= {TARGET_CMDS_PER_FOLDER}", verdict(worst <= TARGET_CMDS_PER_FOLDER)),
        ("    account-level commands (LIST...)", f"{quiet['stats']['account']}", "", ""),
        (f"    no-change wall time at {n:,} / 1,000 (median of {NOCHANGE_REPEATS})",
         f"{nochange['median'] * 1000:.0f} ms / {small_quiet * 1000:.0f} ms", "", ""),
        ("    ratio", f"{nc_ratio:.2f}", f"< {TARGET_NOCHANGE_RATIO}",
         verdict(nc_ratio < TARGET_NOCHANGE_RATIO)),
        (f"    client CPU of it at {n:,} / 1,000 (median)",
         f"{nochange['cpu_median'] * 1000:.0f} ms / "
         f"{results['nochange1000']['cpu_median'] * 1000:.0f} ms", "", ""),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows) + 2
    vwidth = max(len(r[1]) for r in rows) + 2
    print(f"{'figure':<{width}}{'measured':<{vwidth}}{'target':<11}result")
    for label, value, target, result in rows:
        print(f"{label:<{width}}{value:<{vwidth}}{target:<11}{result}")
    imm = nochange["immediate"]
    print()
    print(
        f"notes: the sync right after the first one fetched {imm['bodies']} more bodies "
        f"({imm['seconds']:.1f}s, commands {_cmds(imm)}); "
        f"{nochange['settling_syncs']} more sync(s) until no body work was left; "
        "the no-change figures above are taken after that."
    )
    print(
        f"       first sync issued {sum(_cmds(sync).values())} folder commands "
        f"({_cmds(sync)}), {sync['batches']} batches, {sync['skipped']} skipped; "
        f"{sync['pending_bodies']} bodies still pending after it."
    )
    print(
        "       no-change at 10,000: "
        f"{results['nochange10000']['median'] * 1000:.0f} ms; "
        f"peak RSS of the no-change process at {n:,}: {mb(nochange['VmHWM']):.0f} MB."
    )
    print(f"       measured part of the run: {elapsed / 60:.1f} min")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ghostwatch IMAP sync benchmark")
    parser.add_argument("--messages", type=int, default=100_000, help="size of the main mailbox")
    parser.add_argument("--chunk", type=int, default=500, help="UIDs per FETCH (= fetch_chunk)")
    parser.add_argument(
        "--no-profile", dest="profile", action="store_false", help="skip the cProfile run"
    )
    parser.add_argument(
        "--profile-messages",
        type=int,
        default=10_000,
        help="mailbox size of the cProfile run (cProfile triples the time; the cost per "
        "message is flat from 10k to 100k, see the CPU-per-message row)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work dir (mailboxes, dbs)")
    parser.add_argument("--workdir", help="where to put Dovecot, mailboxes and databases")
    parser.add_argument(
        "--commands-only",
        action="store_true",
        help="only the whole-command figures (bench/command_bench.py) on the --messages mailbox",
    )
    parser.add_argument(
        "--tree",
        action="append",
        help="run the ghostwatch commands from this checkout (repeat to compare trees)",
    )
    parser.add_argument("--child", nargs=2, metavar=("PHASE", "JOB"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        import logging

        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        phase, job = args.child
        print(RESULT + json.dumps(CHILDREN[phase](json.loads(job))), flush=True)
        return 0
    if args.messages < 1000 and not args.commands_only:
        parser.error("--messages must be at least 1000")
    return main_parent(args)


if __name__ == "__main__":
    sys.exit(main())
