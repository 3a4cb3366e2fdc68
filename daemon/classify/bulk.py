"""Mail nobody wrote to the consultant personally: lists, newsletters, notifications."""

from __future__ import annotations

import re

from daemon.classify.message import MailView

# Sender local parts that are machines by convention. Deliberately excludes
# info@/contact@/sales@: small clients do answer from those.
_AUTOMATED_LOCAL = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|dont[-_.]?reply|noreply[-_.+].*|.*[-_.+]no[-_.]?reply|"
    r"notifications?|notify|alerts?|mailer|automailer|auto[-_.]?mail(er)?|newsletters?|"
    r"news|digest|bounces?|owner|owner-.+|.+-owner|.+-request|.+-bounces?|listserv|majordomo|"
    r"mailman|daemon|nobody|system|.+-admin|"
    # transactional senders of shops, banks and booking sites
    r"orders?|order[-_.]?(update|confirm(ation)?)s?|ship[-_.]?(confirm(ation)?|ment|ping)s?|"
    r"auto[-_.]?confirm|confirm(ation)?s?|receipts?|invoices?|billing|statements?|"
    r"marketing|promo(tions?)?|offers|deals|e?news[-_.]?letters?|mailings?)(\+.*)?$"
)
# Hosts whose addresses are group lists, whoever the post is from.
_LIST_HOSTS = re.compile(
    r"^(lists?\.|.*\.lists?\.)|^(googlegroups\.com|yahoogroups\.com|groups\.io)$"
)
# Envelope senders of list managers and mailing services (VERP): bounce-..., ...-bounces@.
_VERP_LOCAL = re.compile(r"^(bounces?[-_.+=].+|.+[-_.+]bounces?([-_.+=].*)?|.+-errors|errors-.+)$")


def list_evidence(view: MailView) -> str | None:
    for name, label in (("list-id", "List-Id"), ("list-unsubscribe", "List-Unsubscribe")):
        if view.has(name):
            return f"header {label}: {view.value(name)[:60]}"
    return None


def precedence_bulk(view: MailView) -> str | None:
    value = (view.value("precedence") or view.value("x-precedence")).strip().lower()
    return f"header Precedence: {value}" if value in ("bulk", "list", "junk") else None


def automated_sender(addr: str) -> str | None:
    local, _, domain = addr.partition("@")
    if local and _AUTOMATED_LOCAL.match(local):
        return f"automated sender {addr}"
    if domain and _LIST_HOSTS.match(domain):
        return f"list host sender {addr}"
    return None


def verp_return_path(view: MailView) -> str | None:
    return verp_of(view.value("return-path"))


def verp_of(return_path: str) -> str | None:
    """verp_return_path of a decoded Return-Path value."""
    path = return_path.strip().strip("<>").lower()
    local = path.split("@", 1)[0]
    if "@" in path and _VERP_LOCAL.match(local):
        return f"mailing-service envelope sender {path[:60]}"
    return None
