"""When a failing account may try again: exponential backoff with jitter.

Jitter, because accounts that failed together (one company server down, one
laptop waking up) must not hammer the server again in lockstep. The curve
depends on what failed: a wrong password does not fix itself within seconds,
and repeated failed logins get mailboxes locked by many servers, so those
retries start slow; a server hiccup is retried soon.

Times are monotonic seconds, never the decision clock (`--now` may be fixed).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from connectors.errors import AuthFailed, ConfigProblem, RateLimited, Transient


@dataclass(frozen=True, slots=True)
class Curve:
    base: float  # the first delay, seconds
    cap: float  # no delay grows beyond this

    def delay(self, failures: int, rng: random.Random) -> float:
        """Delay after the n-th failure in a row, jittered into [step/2, step]."""
        step = min(self.cap, self.base * 2 ** max(0, failures - 1))
        # "Equal jitter": never less than half the step, so a flapping server
        # still sees the backoff grow.
        return step / 2 + rng.uniform(0, step / 2)


TRANSIENT = Curve(base=30, cap=30 * 60)
AUTH = Curve(base=10 * 60, cap=6 * 3600)
SETUP = Curve(base=5 * 60, cap=3600)  # a connector setting the user must fix
OTHER = Curve(base=60, cap=3600)  # bugs, database errors, disk full
WRITE = Curve(base=120, cap=6 * 3600)  # a draft or reminder the server did not take


class Retryable(Protocol):
    """An outbox row (draft or reminder) that may fail and be tried again."""

    attempts: int
    state: str
    last_error: str | None
    next_attempt_at: datetime | None


def mark_failed(
    row: Retryable, error: str, now: datetime, rng: random.Random | None = None
) -> None:
    """Record a failed write and when to try again (decision clock: `now` may be --now)."""
    row.attempts += 1
    row.state = "failed"
    row.last_error = error[:500]
    row.next_attempt_at = now + timedelta(seconds=WRITE.delay(row.attempts, rng or random.Random()))


def curve_for(exc: BaseException) -> Curve:
    if isinstance(exc, AuthFailed):
        return AUTH
    if isinstance(exc, Transient):
        return TRANSIENT
    if isinstance(exc, ConfigProblem):
        return SETUP
    return OTHER


@dataclass(slots=True)
class Backoff:
    """Failure counts and retry times per account name."""

    rng: random.Random = field(default_factory=random.Random)
    _failures: dict[str, int] = field(default_factory=dict)
    _until: dict[str, float] = field(default_factory=dict)

    def failed(self, name: str, exc: BaseException, now: float) -> float:
        """Record a failure at monotonic time `now`; returns the delay chosen."""
        count = self._failures.get(name, 0) + 1
        self._failures[name] = count
        delay = curve_for(exc).delay(count, self.rng)
        if isinstance(exc, RateLimited) and exc.retry_after:
            delay = max(delay, exc.retry_after)  # the server said when; earlier is wasted
        self._until[name] = now + delay
        return delay

    def succeeded(self, name: str) -> bool:
        """Forget the failures; True if the account was failing before."""
        self._until.pop(name, None)
        return self._failures.pop(name, 0) > 0

    def wait(self, name: str, now: float) -> float:
        """Seconds until `name` may run again (0 when it may run now)."""
        return max(0.0, self._until.get(name, now) - now)

    def failures(self, name: str) -> int:
        return self._failures.get(name, 0)

    def reset(self) -> None:
        """After a config reload the user has likely fixed something: retry at once."""
        self._failures.clear()
        self._until.clear()
