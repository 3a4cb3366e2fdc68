"""Progress of a long first sync: a bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType

from connectors.model import ChangeBatch

log = logging.getLogger(__name__)
LOG_EVERY_S = 10.0


class Progress:
    def __init__(self, label: str, *, enabled: bool = True) -> None:
        self.label = label
        self.enabled = enabled
        self.bar = None
        self.done = 0
        self.last_log = time.monotonic()

    def __enter__(self) -> Progress:
        return self

    def update(self, batch: ChangeBatch) -> None:
        if batch.progress is None or not self.enabled:
            return
        done, total = batch.progress
        if sys.stderr.isatty():
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=total, desc=self.label, unit="msg", leave=False)
            self.bar.total = total
            self.bar.update(done - self.done)
        elif time.monotonic() - self.last_log >= LOG_EVERY_S:
            log.info("%s: %d of %d messages", self.label, done, total)
            self.last_log = time.monotonic()
        self.done = done

    def __exit__(
        self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
    ) -> None:
        if self.bar is not None:
            self.bar.close()
