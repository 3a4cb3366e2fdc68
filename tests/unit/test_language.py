"""Draft language: detection from the outreach, and the order of precedence."""

from __future__ import annotations

import pytest

from daemon.decide.language import choose_locale, detect, locale_for_code

AVAILABLE = ("zh-CN", "en")


@pytest.mark.parametrize(
    ("subject", "text", "code"),
    [
        ("Staff engineer, payments platform", "Hi Emma, ... (the role)", "en"),
        ("CTO search - fintech scale-up", "Dear Michael, ... (the mandate)", "en"),
        ("某头部短视频公司｜高级Go工程师机会", "王芳您好，...（职位介绍）", "zh"),
        # English job words inside a Chinese mail keep it Chinese ...
        (
            "Senior Go Engineer 职位",
            "王芳您好，我们有一个 Senior Go Engineer 的职位，base 上海。",
            "zh",
        ),
        # ... and a Chinese signature does not make an English mail Chinese.
        (
            "Quick question",
            "Hi Tom,\nwould you be open to a chat about a new role?\nBest,\n李雷",
            "en",
        ),
        # The quoted earlier message is not the consultant's own text.
        (
            "Re: 职位",
            "Hi Wang, thanks for the update.\n\n> 王芳您好，我们有一个职位，您看看？\n> 谢谢",
            "en",
        ),
        (
            "Offer",
            "Thanks!\n\nOn Mon, 2 Nov 2026 Wang Fang wrote:\n王芳您好，附件是offer细节，请查收。",
            "en",
        ),
        # Latin script without English words: not claimed as English.
        ("Neue Stelle", "Hallo Herr Müller, hätten Sie Interesse an einer neuen Stelle?", ""),
        ("求人のご案内", "田中様、こんにちは。新しいポジションについてご連絡しました。", "ja"),
        ("", "", ""),
    ],
)
def test_detect(subject: str, text: str, code: str) -> None:
    assert detect(subject, text) == code


def choose(**kw: object) -> tuple[str, str]:
    args: dict[str, object] = {
        "tag": None,
        "rule_locale": None,
        "rule_label": "rule 3 (subject ~ 'Globex')",
        "detected": None,
        "account_locale": "zh-CN",
        "available": AVAILABLE,
    }
    args.update(kw)
    found = choose_locale(**args)  # type: ignore[arg-type]
    return found.locale, found.why


@pytest.mark.parametrize(
    ("kw", "want"),
    [
        ({}, ("zh-CN", "the account's locale")),
        ({"detected": "en"}, ("en", "from your outreach")),
        ({"detected": "zh"}, ("zh-CN", "from your outreach")),
        ({"detected": ""}, ("zh-CN", "the account's locale")),
        ({"detected": "de"}, ("zh-CN", "the account's locale")),  # no German templates
        ({"detected": "zh", "rule_locale": "en"}, ("en", "from rule 3 (subject ~ 'Globex')")),
        (
            {"detected": "zh", "rule_locale": "en", "tag": "zh-cn"},
            ("zh-CN", "from tag gw:lang:zh-cn"),
        ),
        ({"detected": "en", "tag": "fr"}, ("en", "from your outreach")),  # unknown tag passed over
        ({"account_locale": "en", "detected": None}, ("en", "the account's locale")),
    ],
)
def test_precedence(kw: dict[str, object], want: tuple[str, str]) -> None:
    assert choose(**kw) == want


def test_an_ignored_tag_is_explained() -> None:
    found = choose_locale(
        tag="fr", rule_locale=None, rule_label="", detected="", account_locale="en",
        available=AVAILABLE,
    )  # fmt: skip
    assert found.locale == "en"
    assert any("gw:lang:fr ignored" in n for n in found.notes)
    assert any("not recognised" in n for n in found.notes)


def test_a_detected_language_keeps_the_accounts_regional_variant() -> None:
    assert locale_for_code("zh", "zh-TW", ("zh-CN", "en", "zh-TW")) == "zh-TW"
    assert locale_for_code("zh", "en", ("zh-CN", "en", "zh-TW")) == "zh-CN"
    assert locale_for_code("ja", "en", AVAILABLE) is None


def test_the_first_matching_rule_with_a_locale_sets_it() -> None:
    from daemon.config.settings import PolicyConfig
    from daemon.tracker.policy import Rule, RuleMatch, resolve_playbook

    rules = (
        Rule(when=RuleMatch(role="exec"), set_locale="zh-CN"),
        Rule(when=RuleMatch(subject=r"\[Globex\]"), set_locale="en"),
        Rule(when=RuleMatch(subject="Globex"), set_locale="zh-CN"),
    )
    base = PolicyConfig().base_playbook()
    played = resolve_playbook(base, rules, {}, "[Globex] Head of data")
    assert (played.locale, played.locale_rule) == ("en", "rule 2 (subject ~ '\\\\[Globex\\\\]')")
    assert resolve_playbook(base, rules, {"role": "exec"}, "[Globex] x").locale == "zh-CN"
    assert resolve_playbook(base, rules, {}, "Acme").locale is None
