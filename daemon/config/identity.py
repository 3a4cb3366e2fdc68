"""Who is who: the consultant's own addresses, colleagues, ignored senders."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Identity:
    own: frozenset[str]  # the account address and its aliases, lower case
    internal_domains: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()  # fnmatch patterns, lower case

    def is_own(self, addr: str | None) -> bool:
        return bool(addr) and addr.lower() in self.own

    def is_internal(self, addr: str) -> bool:
        domain = addr.rpartition("@")[2].lower()
        return any(domain == d or domain.endswith("." + d) for d in self.internal_domains)

    def is_ignored(self, addr: str) -> bool:
        addr = addr.lower()
        return any(fnmatch.fnmatchcase(addr, pattern) for pattern in self.ignore)

    def is_external(self, addr: str | None) -> bool:
        """A contact candidate: not us, not a colleague, not an ignored address."""
        if not addr or self.is_own(addr):
            return False
        return not self.is_internal(addr) and not self.is_ignored(addr)

    def why_not_external(self, addr: str) -> str:
        if self.is_own(addr):
            return "own address"
        if self.is_internal(addr):
            return "internal colleague (internal_domains)"
        if self.is_ignored(addr):
            return "matches policy.ignore"
        return ""
