"""Render follow-up drafts and calendar reminders from Jinja2 templates.

Layout (shipped in ``daemon/templates``, overridable file by file from the
user's ``templates_dir``)::

    <locale>/<kind>/step<N>.txt.j2         body of follow-up N (kind: candidate | client)
    <locale>/reminder/<name>.txt.j2        calendar reminder (name: call | final | dead_address |
                                           rejected | mailbox);
                                           first line = summary, the rest = description

A body never contains the subject: the sink always writes ``Re: <original>``.

Template variables (all strings are plain text, never evaluated as template code):

=======================  ===============================================================
``salutation``           opening line, always set: zh-* "王芳，您好" / "您好",
                         other locales "Hi Fang," / "Hello," (see `wording.salutation`;
                         a template of another language writes its own from
                         contact_name)
``contact_name``         the contact's display name as decoded                [optional]
``contact_address``      the contact's mail address                            [optional]
``contact_phone``        the contact's phone number, when one is known         [optional]
``consultant_name``      the consultant's display name                         [optional]
``consultant_signature`` sign-off block, may span lines; defaults to
                         consultant_name                                       [optional]
``role``                 the job title, e.g. "高级产品经理" (not the rule tag)   [optional]
``company``              the hiring company                                    [optional]
``original_subject``     subject of the thread without "Re:"                   [optional]
``stage``                process stage tag, normalized: lower case, "-" for
                         spaces and "_", e.g. "offer", "salary-negotiation"    [optional]
``days_silent``          int, days since the silence began
``step``                 int, the follow-up number asked for (may exceed the
                         highest step file, which is then used)
``kind``                 "candidate" or "client"
``salary_report``        the configured salary report (path or URL)           [optional]
``salary_report_link``   salary_report when it is an http(s) URL               [optional]
``salary_report_file``   the file name of salary_report when it is a path;
                         the full local path is never offered to templates     [optional]
``salary_negotiation``   bool: the stage is a salary negotiation stage
``bounce_reason``        why their server refused our mail, sisimai's word, e.g.
                         "spamdetected" (reminders rejected / mailbox)         [optional]
=======================  ===============================================================

An [optional] variable that is not known is falsy and may be tested
(``{% if role %}``, ``role or "..."``, ``role|default("...")``), but printing
it raises UndefinedError naming it. `check_templates` renders every template
with each optional variable missing, so an unguarded one is reported by
``ghostwatch check`` instead of failing when a draft is due.
"""

from __future__ import annotations

import dataclasses
import re
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import (
    Environment,
    Template,
    TemplateRuntimeError,
    TemplateSyntaxError,
)

from daemon.act.template_env import (
    FALLBACK_LOCALE,
    SHIPPED_STEPS,
    STEP_FILE,
    checked_name,
    environment,
    locale_chain,
    missing_value,
    reminder_template,
    step_template,
)
from daemon.act.wording import clean, clean_line, finish, salutation

__all__ = [
    "KINDS",
    "REMINDERS",
    "DraftVars",
    "check_templates",
    "render_reminder",
    "render_step",
]

KINDS = ("candidate", "client")
REMINDERS = ("call", "final", "dead_address", "rejected", "mailbox")

# Stage tags that mean the salary is being negotiated; a salary report is only
# offered then, because elsewhere it reads as pushing the money conversation.
SALARY_STAGES = frozenset({"salary-negotiation", "salary", "negotiation", "谈薪", "薪资谈判"})


@dataclass(frozen=True, slots=True)
class DraftVars:
    """What a template may say about one thread; see the module notes for each field.

    `salutation` None means: derive it from `contact_name` in the locale of the
    template actually used (so a fallback to English also greets in English).
    """

    kind: str = "candidate"
    step: int = 1
    contact_name: str = ""
    consultant_name: str = ""
    consultant_signature: str = ""
    role: str | None = None
    company: str | None = None
    original_subject: str = ""
    stage: str | None = None
    days_silent: int = 0
    salary_report: str | None = None
    salutation: str | None = None
    contact_address: str = ""
    contact_phone: str | None = None
    # The outreach's other recipients in To/Cc (the draft goes to them too), greeted as well.
    other_names: tuple[str, ...] = ()
    bounce_reason: str = ""  # why their server refused our mail (reminders rejected/mailbox)


# ---------------------------------------------------------------------------
# Context
# ---------------------------------------------------------------------------

# Optional one-line values; the signature is the only value allowed to span lines.
_ONE_LINE = (
    "contact_name",
    "contact_address",
    "contact_phone",
    "consultant_name",
    "role",
    "company",
    "original_subject",
    "stage",
    "salary_report",
    "bounce_reason",
)
_STAGE_SEPARATORS = re.compile(r"[\s_]+")


def _context(v: DraftVars, locale: str) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    for name in _ONE_LINE:
        text = clean_line(str(getattr(v, name) or ""))
        if name == "stage":
            text = _STAGE_SEPARATORS.sub("-", text.casefold())
        ctx[name] = text or missing_value(name)
    signature = clean(v.consultant_signature or "").strip() or clean_line(v.consultant_name)
    ctx["consultant_signature"] = signature or missing_value("consultant_signature")
    given = clean_line(v.salutation) if v.salutation is not None else ""
    ctx["salutation"] = given or salutation(v.contact_name, locale, v.other_names)
    ctx["days_silent"] = int(v.days_silent)
    ctx["step"] = int(v.step)
    ctx["kind"] = clean_line(v.kind)
    report = ctx["salary_report"]
    is_link = bool(report) and re.match(r"(?i)https?://", report) is not None
    ctx["salary_report_link"] = report if is_link else missing_value("salary_report_link")
    file_name = re.split(r"[\\/]", report)[-1] if report and not is_link else ""
    ctx["salary_report_file"] = file_name or missing_value("salary_report_file")
    ctx["salary_negotiation"] = bool(ctx["stage"]) and ctx["stage"] in SALARY_STAGES
    return ctx


def _render(env: Environment, name: str, v: DraftVars) -> str:
    locale = name.split("/", 1)[0]
    return finish(env.get_template(name).render(_context(v, locale)))


def _split_reminder(text: str) -> tuple[str, str]:
    """(first line, the rest); `finish` already dropped leading blank lines."""
    summary, _, description = text.partition("\n")
    description = description.strip("\n")
    return clean_line(summary), (description + "\n" if description else "")


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def render_step(
    locale: str, kind: str, step: int, vars: DraftVars, templates_dir: str | None = None
) -> str:
    """The plain-text body of follow-up `step` for a `kind` contact.

    `kind` and `step` override the fields of `vars`. A locale without the
    template falls back to English; a step beyond the standard three uses the
    locale's highest step file.
    Raises jinja2.TemplateError subclasses (TemplateNotFound, UndefinedError,
    SecurityError, TemplateSyntaxError) and ValueError for an unusable name.
    """
    if step < 1:
        raise ValueError(f"step must be 1 or more, not {step}")
    env = environment(templates_dir)
    names = env.list_templates()
    name = step_template(names, locale, checked_name("kind", kind), step)
    return _render(env, name, dataclasses.replace(vars, kind=kind, step=step))


def render_reminder(
    locale: str, reminder_kind: str, vars: DraftVars, templates_dir: str | None = None
) -> tuple[str, str]:
    """(summary, description) of a calendar reminder: one of REMINDERS."""
    env = environment(templates_dir)
    names = env.list_templates()
    name = reminder_template(names, locale, checked_name("reminder", reminder_kind))
    summary, description = _split_reminder(_render(env, name, vars))
    if not summary:
        raise TemplateRuntimeError(f"{name}: the first line (the reminder's summary) is empty")
    return summary, description


# Sample values for `check`: realistic, and different per field, so a template
# that prints the wrong variable is at least visible in a dry run.
_SAMPLE = DraftVars(
    contact_name="王芳",
    contact_address="wang.fang@example.com",
    contact_phone="+86 138 0000 0000",
    consultant_name="李雷",
    consultant_signature="李雷\n高级顾问",
    role="高级产品经理",
    company="示例科技",
    original_subject="高级产品经理机会",
    stage="interview",
    days_silent=3,
    salary_report="https://reports.example.com/salary-2025.pdf",
    bounce_reason="spamdetected",
)
# Optional fields and their "not known" value as a caller would pass it.
_MISSING_AS = {
    "contact_name": "",
    "contact_address": "",
    "contact_phone": None,
    "consultant_name": "",
    "consultant_signature": "",
    "role": None,
    "company": None,
    "original_subject": "",
    "stage": None,
    "salary_report": None,
    "bounce_reason": "",
}


def _samples(kind: str, step: int) -> Iterator[tuple[str, DraftVars]]:
    base = dataclasses.replace(_SAMPLE, kind=kind, step=step)
    yield "", base
    salary = dataclasses.replace(base, stage="salary-negotiation")
    yield " (stage salary-negotiation)", salary
    path = "/home/u/salary-2025.pdf"
    yield " (salary report file)", dataclasses.replace(salary, salary_report=path)
    yield " (stage offer)", dataclasses.replace(base, stage="offer")
    yield " (an unlisted stage)", dataclasses.replace(base, stage="final-round")
    for name, missing in _MISSING_AS.items():
        yield f" (without {name})", dataclasses.replace(base, **{name: missing})
    yield " (every optional value missing)", dataclasses.replace(base, **_MISSING_AS)


def _where(exc: BaseException, filename: str | None) -> str:
    """' (line N)' from a template error, found in Jinja's rewritten traceback."""
    line = exc.lineno if isinstance(exc, TemplateSyntaxError) else None
    if line is None and filename:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
        line = frames[-1].lineno if frames else None
    return f" (line {line})" if line else ""


def _check_one(env: Environment, name: str) -> list[str]:
    folder, _, file = name.rpartition("/")
    kind = folder.partition("/")[2]
    match = STEP_FILE.fullmatch(file)
    try:
        template = env.get_template(name)
    except TemplateSyntaxError as exc:
        return [f"{exc.filename or name}: {exc.message}{_where(exc, None)}"]
    problems: list[str] = []
    seen: set[str] = set()
    for label, sample in _samples(kind, int(match.group(1)) if match else 2):
        problem = _sample_problem(env, template, name, kind, sample)
        if problem and problem not in seen:
            # The first sample that shows a problem says under which values it happens.
            seen.add(problem)
            problems.append(problem + label)
    return problems


def _sample_problem(
    env: Environment, template: Template, name: str, kind: str, v: DraftVars
) -> str:
    """What is wrong when `template` renders `v`; empty when nothing is."""
    path = template.filename or name
    try:
        text = _render(env, name, v)
    # Everything a template can raise is a problem to list, never a crash of `check`.
    except Exception as exc:
        return f"{path}: {type(exc).__name__}: {exc}{_where(exc, template.filename)}"
    if kind == "reminder":
        empty = not _split_reminder(text)[0]
        return f"{path}: the first line (the summary) is empty" if empty else ""
    return f"{path}: the body is empty" if not text.strip() else ""


def check_templates(locales: Iterable[str], templates_dir: str | None) -> list[str]:
    """Every problem with the templates the given locales will use, each as
    'path: error'; empty when all render with full and with missing values."""
    env = environment(templates_dir)
    try:
        names = env.list_templates()
    except OSError as exc:
        return [f"{templates_dir}: cannot list templates: {exc}"]
    problems: list[str] = []
    for locale in dict.fromkeys(locales):
        chain = locale_chain(names, locale)
        own = chain[0]
        if own.lower() != locale.replace("_", "-").lower():
            problems.append(f"{locale}: no templates for this locale; drafts would use {own!r}")
            continue
        expected = [f"{own}/{k}/step{n}.txt.j2" for k in KINDS for n in SHIPPED_STEPS]
        expected += [f"{own}/reminder/{r}.txt.j2" for r in REMINDERS]
        instead = "" if own == FALLBACK_LOCALE else f"; the {FALLBACK_LOCALE!r} one would be used"
        problems += [f"{n}: missing{instead}" for n in expected if n not in names]
        for name in sorted(n for n in names if n.startswith(f"{own}/") and n.endswith(".txt.j2")):
            problems += _check_one(env, name)
    return problems
