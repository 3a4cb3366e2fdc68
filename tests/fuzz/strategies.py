"""Hostile values for the fuzzing suite (issue 9.12), and its Hypothesis profiles.

Two profiles, applied by decorator so the rest of the test suite keeps its own
settings: "fuzz-ci" (the default: a bounded run on every `scripts/test`) and
"fuzz-long" (scripts/fuzz: many more examples, for a night run). Choose with
GHOSTWATCH_FUZZ_PROFILE.
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

settings.register_profile(
    "fuzz-ci",
    max_examples=40,
    deadline=None,
    derandomize=True,  # CI: the same examples every run, no flaky red build
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)
settings.register_profile(
    "fuzz-long",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PROFILE = os.environ.get("GHOSTWATCH_FUZZ_PROFILE", "fuzz-ci")
FUZZ = settings.get_profile(PROFILE)
# The end-to-end properties run the whole CLI per example: a quarter of the examples, and
# in CI no shrinking (minutes of CLI runs); the failing example is printed as found.
FUZZ_E2E = settings(
    FUZZ,
    max_examples=max(10, FUZZ.max_examples // 4),
    phases=FUZZ.phases if PROFILE == "fuzz-long" else (Phase.explicit, Phase.generate),
)

CONTROLS = ["\r", "\n", "\r\n", "\x00", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\u2028", "\u2029"]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
SYNTAX = ["{{ 7*7 }}", "{% for x %}", "{#", "${x}", "%s", '"', "\\", "<", ">", ",", ";", ":",
          "(", ")", "@", "=?", "?=", "Bcc: attacker@x.example", "To: evil@x.example"]  # fmt: skip


def _encoded(charset: str, encoding: str, payload: str) -> str:
    return f"=?{charset}?{encoding}?{payload}?="


encoded_words = st.one_of(
    # Well-formed words whose text is itself hostile.
    st.builds(
        lambda t: _encoded("utf-8", "b", base64.b64encode(t.encode()).decode()),
        st.sampled_from(["王芳", "a@b.example", "x\r\nBcc: y@z.example", "Wang, Fang", '"q']),
    ),
    # Bad charsets and bad base64 / quoted-printable.
    st.builds(
        _encoded,
        st.sampled_from(["utf-8", "x-klingon", "gbk", "", "utf-7", "utf-8*en"]),
        st.sampled_from(["b", "B", "q", "Q"]),
        st.text(alphabet="!#$%&*+-/=^_`{|}~abcXYZ0189=", max_size=24),
    ),
)

hostile_text = st.lists(
    st.one_of(
        st.text(max_size=12),
        st.sampled_from(CONTROLS + BIDI + SYNTAX),
        encoded_words,
    ),
    max_size=8,
).map("".join)

display_names = st.one_of(
    hostile_text,
    st.sampled_from(["王芳", "Emma Clarke", "O'Brien", "Smith, Jane", ""]),
    st.integers(min_value=1, max_value=10_000).map(lambda n: "N" * n),
)

local_parts = st.from_regex(r"[a-z][a-z0-9._-]{0,10}[a-z0-9]", fullmatch=True)
domains = st.sampled_from(["candidate.example", "mail.example", "x.example", "corp.example"])
addr_specs = st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains)


def quoted(name: str) -> str:
    """The name as a client might write it, quoting (and breaking) as it goes."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


mailbox_values = st.one_of(
    st.builds(lambda n, a: f"{quoted(n)} <{a}>", display_names, addr_specs),
    st.builds(lambda n, a: f"{n} <{a}>", display_names, addr_specs),  # unquoted: anything
    addr_specs,
)
address_headers = st.lists(mailbox_values, min_size=1, max_size=3).map(", ".join)

NOW = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
dates = st.one_of(
    st.none(),
    st.sampled_from(["not a date", "Mon, 32 Foo 2026 25:61:00 +9999", "", "Thu, 01 Jan 2032"]),
    st.integers(min_value=-20 * 24, max_value=24 * 365 * 6).map(
        lambda h: (NOW - timedelta(days=2) + timedelta(hours=h)).strftime(
            "%a, %d %b %Y %H:%M:%S +0000"
        )
    ),
)
message_ids = st.one_of(
    st.none(),
    st.sampled_from(["<dup@hunter.example>", "<dup2@x.example>", "<>", "no-brackets@x.example"]),
    st.builds(lambda a: f"<{a}>", addr_specs),
)
