"""Which folder is Sent, Drafts, Junk...: SPECIAL-USE first, then localized names.

Pure functions over the LIST response, so the rules are testable without a server.
Many servers (163/126, older Exchange, Courier) mark nothing; their folders are
found by the names their webmail creates, in the languages our users meet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from connectors.model import Folder, FolderRole

_SPECIAL_USE = {
    "\\sent": FolderRole.SENT,
    "\\drafts": FolderRole.DRAFTS,
    "\\junk": FolderRole.JUNK,
    "\\trash": FolderRole.TRASH,
    "\\archive": FolderRole.ARCHIVE,
}

# Virtual folders (Gmail's All Mail, Starred...) repeat messages that live elsewhere.
_VIRTUAL = {"\\all", "\\flagged", "\\important"}

_UNSELECTABLE = {"\\noselect", "\\nonexistent"}

_NAMES: dict[FolderRole, tuple[str, ...]] = {
    FolderRole.SENT: (
        "Sent", "Sent Items", "Sent Messages", "Sent Mail", "已发送", "已发送邮件",
        "已發送", "已傳送", "寄件備份", "Gesendet", "Gesendete Elemente", "Gesendete Objekte",
        "Envoyés", "Éléments envoyés", "Messages envoyés", "Enviados", "Elementos enviados",
        "Posta inviata", "Inviati", "Verzonden", "Verzonden items", "Отправленные",
        "送信済み", "送信済みアイテム", "보낸편지함", "보낸 편지함",
    ),
    FolderRole.DRAFTS: (
        "Drafts", "Draft", "草稿箱", "草稿", "草稿夾", "Entwürfe", "Brouillons",
        "Borradores", "Bozze", "Concepten", "Черновики", "下書き", "임시보관함",
    ),
    FolderRole.TRASH: (
        "Trash", "Deleted Items", "Deleted Messages", "Deleted", "Bin", "已删除",
        "已删除邮件", "已刪除", "垃圾桶", "Papierkorb", "Gelöschte Elemente", "Corbeille",
        "Éléments supprimés", "Papelera", "Cestino", "Prullenbak", "Корзина", "ゴミ箱",
        "휴지통",
    ),
    FolderRole.JUNK: (
        "Junk", "Spam", "Junk E-mail", "Junk Email", "Bulk Mail", "垃圾邮件", "垃圾郵件",
        "广告邮件", "Spamverdacht", "Courrier indésirable", "Correo no deseado",
        "Posta indesiderata", "Ongewenste e-mail", "Спам", "迷惑メール", "스팸메일함",
    ),
    FolderRole.ARCHIVE: ("Archive", "Archives", "归档", "存档", "Archiv", "Archivo"),
}  # fmt: skip

_BY_NAME = {name.casefold(): role for role, names in _NAMES.items() for name in names}

# Roles whose folders are not where replies arrive.
NOT_INBOUND = {FolderRole.SENT, FolderRole.DRAFTS, FolderRole.TRASH, FolderRole.JUNK}


@dataclass(frozen=True, slots=True)
class ListedFolder:
    """One row of the LIST response, already decoded from modified UTF-7."""

    name: str
    flags: frozenset[str]  # lower-cased, e.g. "\\sent", "\\noselect"
    delimiter: str | None


def assign_roles(
    listed: Sequence[ListedFolder],
    *,
    sent_folder: str | None = None,
    drafts_folder: str | None = None,
) -> list[tuple[Folder, bool]]:
    """(Folder with its role, is_virtual) for every selectable folder, in LIST order."""
    selectable = [f for f in listed if not (f.flags & _UNSELECTABLE)]
    roles: dict[str, FolderRole] = {}
    for folder in selectable:
        if folder.name.upper() == "INBOX":
            roles[folder.name] = FolderRole.INBOX
            continue
        for flag in sorted(folder.flags):
            if flag in _SPECIAL_USE:
                roles[folder.name] = _SPECIAL_USE[flag]
                break
    _fill_by_name(selectable, roles)
    for override, role in ((sent_folder, FolderRole.SENT), (drafts_folder, FolderRole.DRAFTS)):
        if override:
            for name, known in list(roles.items()):
                if known is role:
                    roles[name] = FolderRole.OTHER
            roles[override] = role
    return [
        (Folder(f.name, roles.get(f.name, FolderRole.OTHER)), bool(f.flags & _VIRTUAL))
        for f in selectable
    ]


def _fill_by_name(selectable: Sequence[ListedFolder], roles: dict[str, FolderRole]) -> None:
    """Give unmarked folders a role by name, only for roles no folder holds yet.

    Top-level folders win over nested ones ("Sent" beats "Clients/Sent").
    """
    taken = set(roles.values())
    ranked = sorted(selectable, key=lambda f: _depth(f))
    for folder in ranked:
        if folder.name in roles:
            continue
        role = _BY_NAME.get(_leaf(folder).casefold())
        if role is not None and role not in taken:
            roles[folder.name] = role
            taken.add(role)


def _leaf(folder: ListedFolder) -> str:
    name = folder.name
    if folder.delimiter and folder.delimiter in name:
        parent, _, leaf = name.rpartition(folder.delimiter)
        # Only INBOX-rooted trees count as top level (Courier: "INBOX.Sent").
        return leaf if parent.upper() == "INBOX" else name
    return name


def _depth(folder: ListedFolder) -> int:
    if not folder.delimiter:
        return 0
    return folder.name.count(folder.delimiter)


def watched(
    folders: Iterable[tuple[Folder, bool]],
    *,
    include: tuple[str, ...] | None,
    exclude: tuple[str, ...],
    inbound_only: bool,
) -> list[Folder]:
    """The folders to read: inbound ones (+ Sent and Drafts unless inbound_only)."""
    result: list[Folder] = []
    for folder, virtual in folders:
        if any(fnmatchcase(folder.name, pattern) for pattern in exclude):
            continue
        if folder.role in (FolderRole.SENT, FolderRole.DRAFTS):
            if not inbound_only:
                result.append(folder)
            continue
        if include is not None:
            if any(fnmatchcase(folder.name, pattern) for pattern in include):
                result.append(folder)
            continue
        if folder.role not in NOT_INBOUND and not virtual:
            result.append(folder)
    # The Inbox last: it stays selected after the sync for the next cycle's
    # cheap check, and syncing any folder after it would deselect it.
    return sorted(result, key=lambda f: f.role is FolderRole.INBOX)
