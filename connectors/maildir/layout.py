"""Find the folders of a Maildir tree and what each one is for.

Two on-disk layouts exist in the wild: Maildir++ (Dovecot, offlineimap's
default, mbsync "SubFolders Maildir++": INBOX is the root, `.Sent` and
`.Sub.Folder` sit beside cur/new/tmp) and verbatim (mbsync "SubFolders
Verbatim", mutt: `INBOX/`, `Sent/`, `Sub/Folder/`). Folder names use "/" as
the hierarchy separator in both, so config and refs do not depend on layout.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass

from connectors.model import Folder, FolderRole

SUBDIRS = ("new", "cur")

# Names clients and providers give special folders, compared lower-cased on
# the last path component ("[Gmail]/Sent Mail" -> "sent mail").
_ROLE_NAMES: dict[FolderRole, frozenset[str]] = {
    FolderRole.SENT: frozenset(
        {
            "sent",
            "sent items",
            "sent messages",
            "sent mail",
            "sent-mail",
            "outbox sent",
            "已发送",
            "已发送邮件",
            "已傳送",
            "寄件備份",
            "发件箱",
            "gesendet",
            "gesendete objekte",
            "gesendete elemente",
            "envoyés",
            "éléments envoyés",
            "messages envoyés",
            "enviados",
            "elementos enviados",
            "inviati",
            "posta inviata",
            "verzonden",
            "verzonden items",
            "skickat",
            "skickade objekt",
            "sendt",
            "отправленные",
            "送信済み",
            "送信済みメール",
            "보낸편지함",
        }
    ),
    FolderRole.DRAFTS: frozenset(
        {
            "drafts",
            "draft",
            "草稿箱",
            "草稿",
            "草稿夹",
            "entwürfe",
            "brouillons",
            "borradores",
            "bozze",
            "concepten",
            "utkast",
            "kladder",
            "черновики",
            "下書き",
            "임시보관함",
        }
    ),
    FolderRole.TRASH: frozenset(
        {
            "trash",
            "deleted items",
            "deleted messages",
            "deleted",
            "bin",
            "已删除",
            "已删除邮件",
            "垃圾桶",
            "已刪除的郵件",
            "papierkorb",
            "gelöschte elemente",
            "gelöschte objekte",
            "corbeille",
            "éléments supprimés",
            "papelera",
            "elementos eliminados",
            "cestino",
            "prullenbak",
            "verwijderde items",
            "papperskorgen",
            "корзина",
            "ゴミ箱",
            "휴지통",
        }
    ),
    FolderRole.JUNK: frozenset(
        {
            "junk",
            "spam",
            "junk e-mail",
            "junk email",
            "junk mail",
            "bulk mail",
            "垃圾邮件",
            "垃圾箱",
            "垃圾郵件",
            "spamverdacht",
            "courrier indésirable",
            "indésirables",
            "correo no deseado",
            "posta indesiderata",
            "ongewenste e-mail",
            "спам",
            "迷惑メール",
            "스팸메일함",
        }
    ),
    FolderRole.ARCHIVE: frozenset({"archive", "archives", "all mail", "归档", "存档", "archiv"}),
}


@dataclass(frozen=True, slots=True)
class MaildirFolder:
    name: str  # "INBOX", "Sent", "Clients/Acme"
    path: str  # the directory holding cur/ new/ tmp/
    role: FolderRole

    def as_folder(self) -> Folder:
        return Folder(name=self.name, role=self.role)


def is_maildir(path: str) -> bool:
    return all(os.path.isdir(os.path.join(path, sub)) for sub in SUBDIRS)


def role_for(name: str) -> FolderRole:
    if name.upper() == "INBOX":
        return FolderRole.INBOX
    last = name.rsplit("/", 1)[-1].strip().lower()
    for role, names in _ROLE_NAMES.items():
        if last in names:
            return role
    return FolderRole.OTHER


def decode_mutf7(name: str) -> str:
    """IMAP modified UTF-7 ("&XfJT0ZAB-" -> "已发送"); the name itself if it is not."""
    if "&" not in name:
        return name
    parts = re.split(r"&([A-Za-z0-9+,]*)-", name)
    out: list[str] = []
    try:
        for i, part in enumerate(parts):
            if i % 2 == 0:
                out.append(part)
            elif not part:
                out.append("&")
            else:
                b64 = part.replace(",", "/")
                out.append(base64.b64decode(b64 + "=" * (-len(b64) % 4)).decode("utf-16-be"))
    except (ValueError, UnicodeDecodeError):
        return name
    return "".join(out)


def detect_layout(root: str) -> str:
    if is_maildir(root):
        return "maildir++"
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.name.startswith(".") and entry.is_dir() and is_maildir(entry.path):
                return "maildir++"
    return "verbatim"


def discover(root: str, layout: str) -> list[MaildirFolder]:
    """Every folder of the tree, INBOX first, then by name."""
    if layout == "auto":
        layout = detect_layout(root)
    names = _maildirpp(root) if layout == "maildir++" else _verbatim(root)
    folders = [MaildirFolder(name, path, role_for(name)) for name, path in names.items()]
    return sorted(folders, key=lambda f: (f.role is not FolderRole.INBOX, f.name))


def _maildirpp(root: str) -> dict[str, str]:
    found: dict[str, str] = {}
    if is_maildir(root):
        found["INBOX"] = root
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.name in (".", "..") or not entry.name.startswith("."):
                continue
            if entry.is_dir() and is_maildir(entry.path):
                parts = [decode_mutf7(p) for p in entry.name[1:].split(".") if p]
                if parts:
                    found.setdefault("/".join(parts), entry.path)
    return found


def _verbatim(root: str) -> dict[str, str]:
    found: dict[str, str] = {}
    if is_maildir(root):
        found["INBOX"] = root  # a single-folder tree (mutt's ~/Maildir)
    stack = [("", root)]
    while stack:
        prefix, path = stack.pop()
        try:
            entries = list(os.scandir(path))
        except OSError:
            continue  # unreadable subtree: its folders are simply not offered
        for entry in entries:
            if entry.name.startswith(".") or entry.name in ("cur", "new", "tmp"):
                continue
            if not entry.is_dir(follow_symlinks=False):
                continue
            name = prefix + decode_mutf7(entry.name)
            if is_maildir(entry.path):
                found.setdefault("INBOX" if name.upper() == "INBOX" else name, entry.path)
            stack.append((name + "/", entry.path))
    return found


def create_folder(root: str, layout: str, name: str) -> str:
    """Make folder `name` (e.g. "Drafts") with cur/new/tmp; returns its path."""
    if layout == "auto":
        layout = detect_layout(root) if os.path.isdir(root) else "verbatim"
    if layout == "maildir++":
        path = os.path.join(root, "." + name.replace("/", "."))
    else:
        path = os.path.join(root, *name.split("/"))
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    return path
