"""What a vdir calendar is configured with (`[accounts.calendar] type = "vdir"`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from connectors.settings import check_timezone


@dataclass(frozen=True, slots=True)
class Settings:
    """A calendar kept as a directory of `.ics` files, as khal and vdirsyncer use it.

    Only simple types, so the config loader can validate and document each field.
    """

    # The calendar directory itself, or the vdir root holding one directory per
    # calendar (then name the calendar below). `~` is expanded.
    path: str
    # Subdirectory of `path` to use as the calendar; created if missing.
    # None: `path` is the calendar directory.
    calendar: str | None = None
    # Zone that floating (zone-less) times written by other clients are read in,
    # e.g. "Asia/Shanghai". None: UTC.
    timezone: str | None = None

    def __post_init__(self) -> None:
        if not self.path.strip():
            raise ValueError("path: empty: set the directory that holds the .ics files")
        if self.calendar is not None and (
            not self.calendar.strip() or "/" in self.calendar or self.calendar in (".", "..")
        ):
            raise ValueError(
                f"calendar: {self.calendar!r}: use the name of one subdirectory of path"
            )
        check_timezone(self.timezone)

    @property
    def directory(self) -> str:
        """The calendar directory the connector reads and writes."""
        root = os.path.abspath(os.path.expanduser(self.path))
        return os.path.join(root, self.calendar) if self.calendar else root
