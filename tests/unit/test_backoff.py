"""Retry timing of failing accounts: grows, caps, jitters, and listens to the server."""

from __future__ import annotations

import random

import pytest

from connectors.errors import AuthFailed, ConfigProblem, RateLimited, Transient
from daemon.backoff import AUTH, OTHER, TRANSIENT, Backoff, Curve, curve_for


@pytest.mark.parametrize("failures", range(1, 12))
def test_delay_stays_within_half_and_whole_step(failures: int) -> None:
    curve = Curve(base=10, cap=300)
    step = min(300, 10 * 2 ** (failures - 1))
    delays = [curve.delay(failures, random.Random(seed)) for seed in range(50)]
    assert all(step / 2 <= d <= step for d in delays)
    assert len(set(delays)) > 1  # jittered, not lockstep


def test_delays_grow_until_the_cap() -> None:
    curve = Curve(base=10, cap=100)
    tops = [curve.delay(n, _Top()) for n in range(1, 8)]
    assert tops == [10, 20, 40, 80, 100, 100, 100]


@pytest.mark.parametrize(
    ("exc", "curve"),
    [
        (Transient("timeout"), TRANSIENT),
        (RateLimited("slow down"), TRANSIENT),
        (AuthFailed("wrong password"), AUTH),
        (ConfigProblem("no password_env"), curve_for(ConfigProblem("x"))),
        (RuntimeError("bug"), OTHER),
    ],
)
def test_curve_depends_on_what_failed(exc: Exception, curve: Curve) -> None:
    assert curve_for(exc) == curve


def test_a_wrong_password_is_retried_later_than_a_timeout() -> None:
    assert AUTH.delay(1, _Bottom()) > TRANSIENT.delay(1, _Top())


def test_retry_after_from_the_server_wins_over_a_shorter_delay() -> None:
    b = Backoff(rng=random.Random(1))
    delay = b.failed("work", RateLimited("429", retry_after=3600), now=100.0)
    assert delay == 3600
    assert b.wait("work", 100.0) == 3600


def test_wait_counts_down_and_success_forgets() -> None:
    b = Backoff(rng=random.Random(2))
    delay = b.failed("work", Transient("down"), now=0.0)
    assert b.wait("work", 0.0) == delay
    assert b.wait("work", delay / 2) == pytest.approx(delay / 2)
    assert b.wait("work", delay + 1) == 0
    assert b.wait("other", 0.0) == 0  # accounts are independent
    assert b.failures("work") == 1
    assert b.succeeded("work") is True
    assert b.succeeded("work") is False
    assert b.wait("work", 0.0) == 0


def test_consecutive_failures_back_off_further() -> None:
    b = Backoff(rng=_Top())
    first = b.failed("work", Transient("down"), now=0.0)
    second = b.failed("work", Transient("down"), now=0.0)
    assert second == 2 * first


def test_reset_lets_every_account_retry_now() -> None:
    b = Backoff()
    b.failed("a", AuthFailed("no"), now=0.0)
    b.failed("b", Transient("no"), now=0.0)
    b.reset()
    assert b.wait("a", 0.0) == b.wait("b", 0.0) == 0
    assert b.failures("a") == 0


class _Top(random.Random):
    """Jitter at its maximum: the delay equals the step."""

    def uniform(self, a: float, b: float) -> float:
        return b


class _Bottom(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a
