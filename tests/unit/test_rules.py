"""Rule resolution: tags, subject regexes, first match wins, user tags beat rules."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from daemon.tracker.policy import (
    BusinessCalendar,
    Playbook,
    Rule,
    RuleMatch,
    due_times,
    parse_duration,
    resolve_playbook,
    rule_matches,
)


def durations(*texts: str) -> tuple:
    return tuple(parse_duration(t) for t in texts)


BASE = Playbook(
    steps=durations("1bd", "3bd", "6bd"),
    close_after=parse_duration("3bd"),
    min_gap=parse_duration("1bd"),
    ooo_default=parse_duration("5bd"),
)

OFFER_SUBJECT = Rule(when=RuleMatch(subject="(?i)offer|录用"), set_tags=(("stage", "offer"),))
OFFER_STAGE = Rule(when=RuleMatch(stage="offer"), steps=durations("48h", "96h", "144h"))
EXEC = Rule(when=RuleMatch(role="exec"), steps=durations("3bd", "10bd", "20bd"))
TECH = Rule(when=RuleMatch(role="tech"), steps=durations("5d", "10d", "15d"))
ENGINEER_SUBJECT = Rule(when=RuleMatch(subject="Engineer"), set_tags=(("role", "tech"),))


def test_no_rules_keep_the_base_playbook() -> None:
    got = resolve_playbook(BASE, [], {}, "Hello")
    assert (got.steps, got.close_after, got.min_gap) == (BASE.steps, BASE.close_after, BASE.min_gap)
    assert got.matched_rules == ()
    assert got.tags == ()


def test_subject_rule_sets_stage_then_stage_rule_gives_48h_steps() -> None:
    rules = [EXEC, OFFER_SUBJECT, OFFER_STAGE]
    got = resolve_playbook(BASE, rules, {"kind": "candidate"}, "Re: Your offer from ACME")
    assert got.steps == durations("48h", "96h", "144h")
    assert dict(got.tags) == {"stage": "offer", "kind": "candidate"}
    assert got.matched_rules == (2,)
    assert any("set stage=offer" in line for line in got.trace)


def test_offer_stage_steps_are_hours_on_the_calendar() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    got = resolve_playbook(BASE, [OFFER_SUBJECT, OFFER_STAGE], {}, "录用通知 / offer letter")
    calendar = BusinessCalendar("Asia/Shanghai", "CN", (time(9), time(18)))
    start = datetime(2026, 9, 14, 10, 0, tzinfo=shanghai)
    assert [d.at for d in due_times(got, calendar, start)] == [
        datetime(2026, 9, 16, 10, 0, tzinfo=shanghai),
        datetime(2026, 9, 18, 10, 0, tzinfo=shanghai),
        # 144h = Sun 09-20, a make-up working day.
        datetime(2026, 9, 20, 10, 0, tzinfo=shanghai),
    ]


def test_chinese_subject_matches_too() -> None:
    got = resolve_playbook(BASE, [OFFER_SUBJECT, OFFER_STAGE], {}, "关于录用的通知")
    assert dict(got.tags) == {"stage": "offer"}


def test_user_role_tag_beats_a_subject_rule() -> None:
    rules = [ENGINEER_SUBJECT, TECH, EXEC]
    subject = "Senior Engineer role at ACME"
    assert resolve_playbook(BASE, rules, {}, subject).steps == TECH.steps
    got = resolve_playbook(BASE, rules, {"role": "exec"}, subject)
    assert got.steps == EXEC.steps
    assert dict(got.tags) == {"role": "exec"}
    assert got.matched_rules == (2,)
    assert any("ignored, tag gw:role:exec wins" in line for line in got.trace)


def test_user_stage_tag_beats_subject_rule_that_sets_stage() -> None:
    got = resolve_playbook(BASE, [OFFER_SUBJECT, OFFER_STAGE], {"stage": "screening"}, "offer")
    assert got.steps == BASE.steps
    assert dict(got.tags) == {"stage": "screening"}


def test_first_match_wins_for_playbook_fields() -> None:
    first = Rule(when=RuleMatch(role="exec"), steps=durations("2bd"))
    second = Rule(when=RuleMatch(role="exec"), steps=durations("9bd"))
    got = resolve_playbook(BASE, [first, second], {"role": "exec"}, "")
    assert got.steps == durations("2bd")
    assert got.matched_rules == (0,)


def test_first_match_is_per_field() -> None:
    # A later rule still supplies a field the earlier winner left unset.
    steps_rule = Rule(when=RuleMatch(role="exec"), steps=durations("3bd", "10bd"))
    gap_rule = Rule(when=RuleMatch(kind="client"), min_gap=parse_duration("2bd"))
    other_gap = Rule(when=RuleMatch(), min_gap=parse_duration("5bd"))
    got = resolve_playbook(
        BASE, [steps_rule, gap_rule, other_gap], {"role": "exec", "kind": "client"}, ""
    )
    assert got.steps == durations("3bd", "10bd")
    assert got.min_gap == parse_duration("2bd")
    assert got.close_after == BASE.close_after
    assert got.matched_rules == (0, 1)


def test_first_set_wins_between_rules() -> None:
    a = Rule(when=RuleMatch(subject="offer"), set_tags=(("stage", "offer"),))
    b = Rule(when=RuleMatch(subject="salary"), set_tags=(("stage", "salary"),))
    got = resolve_playbook(BASE, [a, b], {}, "offer and salary")
    assert dict(got.tags) == {"stage": "offer"}


def test_set_tags_chain_in_order() -> None:
    # Rule 1 can only match because rule 0 set stage=offer before it.
    a = Rule(when=RuleMatch(subject="offer"), set_tags=(("stage", "offer"),))
    b = Rule(when=RuleMatch(stage="offer"), set_tags=(("kind", "candidate"),))
    got = resolve_playbook(BASE, [a, b], {}, "offer")
    assert dict(got.tags) == {"stage": "offer", "kind": "candidate"}


def test_rule_without_match_changes_nothing() -> None:
    got = resolve_playbook(BASE, [EXEC, OFFER_SUBJECT, OFFER_STAGE], {"role": "tech"}, "Intro")
    assert got.steps == BASE.steps
    assert got.matched_rules == ()
    assert dict(got.tags) == {"role": "tech"}


def test_salary_report_comes_from_the_matching_rule() -> None:
    salary = Rule(
        when=RuleMatch(stage="salary"),
        steps=durations("72h"),
        salary_report="https://example.com/report.pdf",
    )
    got = resolve_playbook(BASE, [salary], {"stage": "salary"}, "")
    assert got.salary_report == "https://example.com/report.pdf"
    assert got.steps == durations("72h")
    assert resolve_playbook(BASE, [salary], {}, "").salary_report is None


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("Offer", "Your Offer", True),
        ("Offer", "your offer", False),  # case-sensitive unless (?i)
        ("(?i)offer", "YOUR OFFER", True),
        ("^Re: ", "Re: hello", True),
        ("^Re: ", "Fwd: Re: hello", False),
        ("(unclosed", "(unclosed", False),  # invalid regex: never matches, never crashes
    ],
)
def test_subject_regex(pattern: str, subject: str, matches: bool) -> None:
    assert rule_matches(RuleMatch(subject=pattern), {}, subject) is matches


def test_invalid_regex_is_skipped_not_fatal() -> None:
    broken = Rule(when=RuleMatch(subject="[offer"), steps=durations("1h"))
    got = resolve_playbook(BASE, [broken, OFFER_SUBJECT, OFFER_STAGE], {}, "[offer")
    assert got.steps == OFFER_STAGE.steps
    assert any("invalid subject regex" in line for line in got.trace)


def test_tag_values_are_normalised() -> None:
    got = resolve_playbook(BASE, [EXEC], {"Role": " Exec "}, "")
    assert got.steps == EXEC.steps
    assert dict(got.tags) == {"role": "exec"}


def test_unknown_tag_keys_are_not_part_of_the_result() -> None:
    got = resolve_playbook(BASE, [], {"role": "exec", "stop": "1", "kind": ""}, "")
    assert got.tags == (("role", "exec"),)


def test_base_tags_are_the_lowest_precedence() -> None:
    base = Playbook(
        steps=BASE.steps,
        close_after=BASE.close_after,
        min_gap=BASE.min_gap,
        ooo_default=BASE.ooo_default,
        tags=(("kind", "client"), ("stage", "sourcing")),
    )
    got = resolve_playbook(base, [OFFER_SUBJECT], {"kind": "candidate"}, "offer")
    assert dict(got.tags) == {"kind": "candidate", "stage": "offer"}
    assert got.ooo_default == BASE.ooo_default


def test_tags_are_reported_in_a_fixed_order() -> None:
    tags = {"source": "linkedin", "kind": "client", "stage": "offer", "role": "tech"}
    got = resolve_playbook(BASE, [], tags, "")
    assert [k for k, _ in got.tags] == ["role", "stage", "kind", "source"]
