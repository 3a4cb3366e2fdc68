"""The daemon's clocks: the decision clock (`--now` for a daemon) and the poll interval."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from daemon.config.settings import Config

log = logging.getLogger("daemon.runtime.service")  # the daemon's lines keep one source

POLL_ENV = "GHOSTWATCH_POLL_SECONDS"  # tests and demos: poll faster than the config allows

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def shifted_clock(start: datetime | None) -> Clock:
    """`--now` for a daemon: time starts at `start` and then runs at real speed."""
    if start is None:
        return system_clock
    began = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - began)


def poll_seconds(config: Config) -> int:
    """Whole seconds between polls; $GHOSTWATCH_POLL_SECONDS overrides the config."""
    override = os.environ.get(POLL_ENV, "").strip()
    if override:
        if override.isdigit() and int(override) > 0:
            return int(override)
        log.warning("%s=%r is not a whole number of seconds; ignored", POLL_ENV, override)
    return max(1, round(config.daemon.poll_interval.total_seconds()))
