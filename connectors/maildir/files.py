"""Maildir message files: names, flags, header blocks, atomic delivery.

A file name is `<unique>[:2,<flags>]`; the unique part stays the same when a
client changes flags (rename) or moves the file from new/ to cur/, so it is
what identifies a message. Windows-friendly tools write ";" or "!" for ":".
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import time
from collections.abc import Iterable

from connectors.maildir.layout import SUBDIRS

MAX_HEADER_BYTES = 1 << 20  # a header block larger than this is cut (and said so)
_READ_CHUNK = 16_384
_INFO = re.compile(r"[:;!]2,")
_END_OF_HEADERS = re.compile(rb"\r?\n\r?\n")
_counter = itertools.count()

# Maildir flag letters <-> IMAP system flags, so every connector reports the same names.
LETTER_TO_FLAG = {
    "S": "\\Seen",
    "R": "\\Answered",
    "F": "\\Flagged",
    "D": "\\Draft",
    "T": "\\Deleted",
    "P": "$Forwarded",
}
FLAG_TO_LETTER = {v.lower(): k for k, v in LETTER_TO_FLAG.items()}


def split_name(filename: str) -> tuple[str, str]:
    """(unique name, flag letters) of a message file name."""
    match = _INFO.search(filename)
    if match is None:
        return filename, ""
    return filename[: match.start()], filename[match.end() :]


def flags_of(letters: str) -> frozenset[str]:
    return frozenset(LETTER_TO_FLAG[c] for c in letters if c in LETTER_TO_FLAG)


def letters_for(flags: Iterable[str]) -> str:
    """Maildir info letters for IMAP flag names, in the ASCII order the spec asks for."""
    letters = {FLAG_TO_LETTER.get(f.lower(), "") for f in flags}
    return "".join(sorted(letters - {""}))


def list_messages(folder_path: str) -> dict[str, tuple[str, str]]:
    """unique name -> (subdir, file name) for every message in new/ and cur/.

    A file caught in both (a client moving it right now) counts once, from cur/.
    """
    found: dict[str, tuple[str, str]] = {}
    for sub in SUBDIRS:
        try:
            names = os.listdir(os.path.join(folder_path, sub))
        except FileNotFoundError:
            continue
        for filename in names:
            if filename.startswith("."):
                continue  # dot files are not messages (Maildir spec)
            found[split_name(filename)[0]] = (sub, filename)
    return found


def find_file(folder_path: str, unique: str) -> str | None:
    entry = list_messages(folder_path).get(unique)
    return os.path.join(folder_path, *entry) if entry else None


def read_header_block(path: str, limit: int = MAX_HEADER_BYTES) -> tuple[bytes, bool]:
    """The bytes before the first empty line, never the body; (block, was_cut)."""
    buf = b""
    with open(path, "rb") as fh:
        while len(buf) < limit:
            chunk = fh.read(_READ_CHUNK)
            if not chunk:
                return buf, False
            start = max(0, len(buf) - 3)
            buf += chunk
            end = _END_OF_HEADERS.search(buf, start)
            if end is not None:
                return buf[: buf.index(b"\n", end.start()) + 1], False
    return buf[:limit], True


def unique_name() -> str:
    """A new unique name: time, microseconds, pid, counter, host (Maildir spec)."""
    now = time.time()
    host = socket.gethostname().replace("/", "\\057").replace(":", "\\072") or "localhost"
    return f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}Q{next(_counter)}.{host}"


def write_message(folder_path: str, data: bytes, *, letters: str | None = None) -> str:
    """Deliver `data` atomically (tmp/ then rename); returns the new file's path.

    `letters=None` delivers to new/ (unseen mail); otherwise to cur/ with those flags.
    """
    unique = unique_name()
    tmp = os.path.join(folder_path, "tmp", unique)
    os.makedirs(os.path.dirname(tmp), exist_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if letters is None:
            final = os.path.join(folder_path, "new", unique)
        else:
            final = os.path.join(folder_path, "cur", f"{unique}:2,{letters}")
        os.rename(tmp, final)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return final
