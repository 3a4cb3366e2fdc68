"""Rule resolution: tags, subject regexes, first match wins, user tags beat rules."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from daemon.tracker.business_calendar import BusinessCalendar, due_times
from daemon.tracker.policy import (
    Playbook,
    Rule,
    RuleMatch,
    clean_detail,
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
    assert got.matched_rules == (1, 2)  # the rule that set the stage counts too (issue 8)
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


# --- the job: title and company -------------------------------------------------------

JOB_SUBJECT = Rule(
    when=RuleMatch(subject=r"(?P<company>[^|｜]+)[|｜]\s*(?P<title>[^|｜]+?)\s*(职位|机会|role)")
)


def test_named_subject_groups_give_title_and_company() -> None:
    got = resolve_playbook(BASE, [JOB_SUBJECT], {}, "示例科技｜高级产品经理 机会")
    assert (got.title, got.company) == ("高级产品经理", "示例科技")
    assert any("title '高级产品经理'" in line and "from the subject" in line for line in got.trace)
    # Title and company shape no cadence and no tag.
    assert got.steps == BASE.steps and got.tags == ()


def test_no_match_no_job() -> None:
    got = resolve_playbook(BASE, [JOB_SUBJECT], {}, "Catching up")
    assert (got.title, got.company) == (None, None)


def test_set_title_and_company_keep_their_case() -> None:
    rule = Rule(
        when=RuleMatch(subject="(?i)acme"), set_title="Staff Engineer", set_company="ACME Labs"
    )
    got = resolve_playbook(BASE, [rule], {}, "Hello from acme")
    assert (got.title, got.company) == ("Staff Engineer", "ACME Labs")
    assert any("company 'ACME Labs' from set" in line for line in got.trace)


def test_set_beats_the_capture_of_the_same_rule() -> None:
    rule = Rule(when=JOB_SUBJECT.when, set_company="示例科技集团")
    got = resolve_playbook(BASE, [rule], {}, "示例科技｜高级产品经理 机会")
    assert (got.title, got.company) == ("高级产品经理", "示例科技集团")


def test_tags_beat_rules_and_the_trace_says_so() -> None:
    tags = {"title": "Principal PM", "role": "Exec"}
    got = resolve_playbook(BASE, [EXEC, JOB_SUBJECT], tags, "示例科技｜高级产品经理 机会")
    assert (got.title, got.company) == ("Principal PM", "示例科技")
    assert "title 'Principal PM' from tag gw:title" in got.trace
    assert any("title '高级产品经理' ignored, tag gw:title wins" in line for line in got.trace)
    # gw:role: stays a category that picks the cadence, never the job title.
    assert dict(got.tags) == {"role": "exec"} and got.steps == EXEC.steps


def test_the_first_matching_rule_that_gives_a_value_wins_per_value() -> None:
    company_only = Rule(when=RuleMatch(kind="client"), set_company="星河数据")
    not_matching = Rule(when=RuleMatch(role="exec"), set_title="CTO")
    rules = [not_matching, company_only, JOB_SUBJECT]
    got = resolve_playbook(BASE, rules, {"kind": "client"}, "示例科技｜数据平台负责人 职位")
    assert (got.title, got.company) == ("数据平台负责人", "星河数据")
    candidate = resolve_playbook(
        BASE, rules, {"kind": "candidate"}, "示例科技｜数据平台负责人 职位"
    )
    assert candidate.company == "示例科技"


def test_a_rule_matches_on_tags_set_by_earlier_rules() -> None:
    client = Rule(when=RuleMatch(subject="短名单"), set_tags=(("kind", "client"),))
    title = Rule(when=RuleMatch(kind="client"), set_title="数据平台负责人")
    got = resolve_playbook(BASE, [title, client], {}, "候选人短名单")
    assert got.title == "数据平台负责人"


@pytest.mark.parametrize(
    ("captured", "expected"),
    [
        ("  Senior\tPM  ", "Senior PM"),
        ("ACME\r\nBcc: x@evil.example", "ACME Bcc: x@evil.example"),
        ("A\u202eCME\u200b Labs\x00\x1b[31m", "ACME Labs[31m"),
        ("产品\u2028经理", "产品 经理"),
        ("x" * 200, "x" * 80),
        (" \r\n\t ", None),
        ("\u202e", None),
    ],
)
def test_untrusted_values_are_cleaned(captured: str, expected: str | None) -> None:
    assert clean_detail(captured) == expected
    got = resolve_playbook(BASE, [], {"company": captured}, "")
    assert got.company == expected


def test_a_capture_is_cleaned_and_capped() -> None:
    rule = Rule(when=RuleMatch(subject=r"^(?P<title>.*)$"))
    got = resolve_playbook(BASE, [rule], {}, "高级产品经理 " * 30)
    assert got.title is not None and len(got.title) == 80 and not got.title.endswith(" ")


def test_an_empty_capture_leaves_it_to_later_rules() -> None:
    empty = Rule(when=RuleMatch(subject=r"^(?P<title>\s*)Hello"))
    fallback = Rule(when=RuleMatch(subject="Hello"), set_title="Account Manager")
    got = resolve_playbook(BASE, [empty, fallback], {}, "Hello")
    assert got.title == "Account Manager"


def test_a_rule_that_only_names_the_job_is_listed_as_matched() -> None:
    job = Rule(when=RuleMatch(subject=r"(?P<company>\w+) \| (?P<title>[\w ]+) role"))
    got = resolve_playbook(BASE, [EXEC, job], {}, "ACME | Staff Engineer role")
    assert (got.title, got.company) == ("Staff Engineer", "ACME")
    assert got.matched_rules == (1,)
    # One numbering for people: the trace says "rule 2", like explain's "rules matched".
    assert any(line.startswith("rule 2 ") for line in got.trace)
