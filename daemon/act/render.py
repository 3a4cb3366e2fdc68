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
                         other locales "Hi Fang," / "Hello," (see `salutation`;
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
import functools
import importlib.resources
import re
import traceback
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateRuntimeError,
    TemplateSyntaxError,
)
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

__all__ = [
    "KINDS",
    "REMINDERS",
    "DraftVars",
    "check_templates",
    "render_reminder",
    "render_step",
    "salutation",
]

KINDS = ("candidate", "client")
REMINDERS = ("call", "final", "dead_address", "rejected", "mailbox")
SHIPPED_STEPS = (1, 2, 3)
FALLBACK_LOCALE = "en"

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
# Cleaning values
# ---------------------------------------------------------------------------

# C0/C1 controls except \t and \n, line/paragraph separators, and bidi
# overrides/isolates: a display name with U+202E could make the draft show text
# in a different order than the consultant reads when approving it.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_LINE_BREAKS = re.compile(r"\s*[\n\t]+\s*")
_BLANK_RUN = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)


def _clean(text: str) -> str:
    return _CONTROL.sub("", text)


def _clean_line(text: str) -> str:
    """One line: values from mail headers must not be able to add paragraphs to a draft."""
    return " ".join(_LINE_BREAKS.sub(" ", _clean(text)).split())


def _finish(text: str) -> str:
    """Tidy plain text: one blank line at most between paragraphs, one final newline."""
    text = _clean(text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _TRAILING_SPACE.sub("", text)
    text = _BLANK_RUN.sub("\n\n", text).strip("\n")
    return text + "\n" if text else ""


# ---------------------------------------------------------------------------
# Salutation
# ---------------------------------------------------------------------------

_BRACKETED = re.compile(r"\s*(\([^)]*\)|（[^）]*）|\[[^\]]*\]|【[^】]*】)\s*")
_QUOTES = "\"'“”‘’「」"
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof"})
_MAX_NAME_WORDS = 5
_MAX_NAME_CHARS = 64
# Letters and combining marks, with the punctuation names carry ("O'Brien", "Jean-Luc",
# "Dr.", "Smith, Jane", "阿卜杜拉·阿齐兹"); str.isalpha is True for letters and CJK.
_NAME_WORD = re.compile(r"(?:[^\W\d_]|[\u0300-\u036f'’.\-·・,，])+")


def _has_letter(text: str) -> bool:
    return any(unicodedata.category(c).startswith("L") for c in text)


def _is_cjk(text: str) -> bool:
    return any(unicodedata.east_asian_width(c) in "WF" for c in text)


def _usable_name(name: str | None) -> str:
    """The display name worth greeting, or '' when it is an address or junk."""
    cleaned = _clean_line(name or "")
    # "Wang Fang (HR)", "Fang [External]": the bracketed part is a label, not the name.
    cleaned = _BRACKETED.sub(" ", cleaned).strip().strip(_QUOTES).strip()
    if not cleaned or "@" in cleaned or not _has_letter(cleaned):
        return ""
    words = cleaned.split()
    # A name is a few words of letters: "{% for x %}", "Carl Bcc: x" or a pasted
    # paragraph in the display name get the neutral greeting instead of a fragment.
    if len(words) > _MAX_NAME_WORDS or len(cleaned) > _MAX_NAME_CHARS:
        return ""
    if not all(_NAME_WORD.fullmatch(w) and _has_letter(w) for w in words):
        return ""
    return " ".join(words)


def _given_name(name: str) -> str:
    """The part of a Latin-script name that goes after "Hi"."""
    if "," in name:
        # Directory style "Smith, Jane".
        after = name.split(",", 1)[1].strip()
        if _has_letter(after):
            name = after
    parts = name.split()
    if len(parts) == 1:
        return parts[0]
    if parts[0].rstrip(".").lower() in _TITLES:
        return f"{parts[0]} {parts[-1]}"  # "Dr. Smith", never "Hi Dr.,"
    # "WANG Fang": the capitalised word is the family name, greet by the other one.
    shouting = [p for p in parts if p.isupper() and len(p) > 1]
    if len(shouting) == 1 and len(parts) == 2:
        return next(p for p in parts if p is not shouting[0])
    return parts[0]


def salutation(name: str | None, locale: str, others: tuple[str, ...] = ()) -> str:
    """The greeting line: zh-* "王芳，您好" / "您好"; other locales "Hi Fang," / "Hello,".
    With `others` (a draft to several people): "王芳、李明，您好", "Hi Carl and Dana,",
    and "各位好" / "Hello all," when a name is missing.

    Chinese keeps the whole name (family name included, as is polite); a
    CJK-script name in an English draft is kept whole too, since "given name
    first" cannot be assumed for it.
    """
    if others:
        return _group_salutation((name, *others), locale)
    usable = _usable_name(name)
    if locale.lower().startswith("zh"):
        return f"{usable}，您好" if usable else "您好"
    if not usable:
        return "Hello,"
    if _is_cjk(usable):
        return f"Hi {usable.replace(' ', '')},"
    return f"Hi {_given_name(usable)},"


def _group_salutation(names: tuple[str | None, ...], locale: str) -> str:
    usable = [_usable_name(n) for n in names]
    zh = locale.lower().startswith("zh")
    if not all(usable):
        return "各位好" if zh else "Hello all,"
    if zh:
        return f"{'、'.join(usable)}，您好"
    greeted = [n.replace(" ", "") if _is_cjk(n) else _given_name(n) for n in usable]
    return f"Hi {', '.join(greeted[:-1])} and {greeted[-1]},"


# ---------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------


class MissingValue(StrictUndefined):
    """An optional variable that is not known for this draft.

    Falsy and comparable, so templates can branch on it; printing or
    concatenating it fails with the variable's name (StrictUndefined).
    """

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MissingValue)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(MissingValue)


def _missing(name: str) -> MissingValue:
    return MissingValue(
        hint=f"{name!r} is not known for this draft; guard it with {{% if {name} %}}",
        name=name,
    )


_MAX_RESULT = 100_000  # characters; far more than any mail body


class _Sandbox(ImmutableSandboxedEnvironment):
    """The Jinja sandbox, plus a size cap on `*` and `**`: a typo such as
    {{ "-" * 10**9 }} in a user template must fail, not exhaust memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError(f"exponent {right} is too large")
        if op == "*":
            for seq, times in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple)
                if sized and isinstance(times, int) and len(seq) * times > _MAX_RESULT:
                    raise SecurityError("repetition result is too large")
        return super().call_binop(context, op, left, right)


class _ShippedLoader(BaseLoader):
    """The templates inside the installed package (importlib.resources, so a
    wheel or zip install works without a real directory)."""

    def __init__(self, package: str = "daemon", folder: str = "templates") -> None:
        self._root = importlib.resources.files(package).joinpath(folder)

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        node: Traversable = self._root
        for piece in split_template_path(template):  # refuses ".." and absolute paths
            node = node.joinpath(piece)
        if not node.is_file():
            raise TemplateNotFound(template)
        return node.read_text(encoding="utf-8"), str(node), lambda: True

    def list_templates(self) -> list[str]:
        return sorted(self._walk(self._root, ""))

    def _walk(self, node: Traversable, prefix: str) -> Iterator[str]:
        if not node.is_dir():
            return
        for child in node.iterdir():
            if child.is_dir():
                yield from self._walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".j2"):
                yield f"{prefix}{child.name}"


@functools.lru_cache(maxsize=16)
def _environment(templates_dir: str | None) -> Environment:
    loaders: list[BaseLoader] = []
    if templates_dir:
        loaders.append(FileSystemLoader(templates_dir, encoding="utf-8"))
    loaders.append(_ShippedLoader())
    return _Sandbox(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=False,  # plain-text mail: "&" must stay "&"
        keep_trailing_newline=True,
        # Block tags on lines of their own leave no blank lines behind.
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=True,  # edits to templates_dir apply to a running daemon
    )


# ---------------------------------------------------------------------------
# Choosing the template file
# ---------------------------------------------------------------------------

_SAFE_NAME = re.compile(r"[A-Za-z0-9\u0080-\uffff][\w.-]*")
_STEP_FILE = re.compile(r"step([0-9]+)\.txt\.j2")


def _checked(what: str, value: str) -> str:
    if not _SAFE_NAME.fullmatch(value) or ".." in value:
        raise ValueError(f"{what} {value!r} is not a template folder name")
    return value


def _locales(names: Iterable[str]) -> set[str]:
    return {n.split("/", 1)[0] for n in names if "/" in n}


def _locale_chain(names: Iterable[str], locale: str) -> list[str]:
    """Locales to try in order: the best match for `locale`, then English."""
    available = _locales(names)
    wanted = locale.strip().replace("_", "-")
    chosen = None
    if wanted in available:
        chosen = wanted
    else:
        by_lower = {a.lower(): a for a in available}
        # "zh_cn" -> "zh-CN"; "en-GB" -> "en" (only the bare language, never a sibling
        # region: zh-TW readers should not get zh-CN wording by accident).
        chosen = by_lower.get(wanted.lower()) or by_lower.get(wanted.split("-")[0].lower())
    return list(dict.fromkeys([c for c in (chosen, FALLBACK_LOCALE) if c]))


def _step_template(names: list[str], locale: str, kind: str, step: int) -> str:
    for loc in _locale_chain(names, locale):
        steps = []
        for name in names:
            folder, _, file = name.rpartition("/")
            match = _STEP_FILE.fullmatch(file)
            if folder == f"{loc}/{kind}" and match:
                steps.append(int(match.group(1)))
        if step in steps:
            return f"{loc}/{kind}/step{step}.txt.j2"
        # Beyond the standard playbook the last closing note is the right tone; a gap
        # inside it is an unfinished locale, and another step's text would be the
        # wrong tone (a check-in instead of a closing note), so try the next locale.
        usable = [s for s in steps if s < step]
        if step > len(SHIPPED_STEPS) and usable:
            return f"{loc}/{kind}/step{max(usable)}.txt.j2"
    raise TemplateNotFound(
        f"{locale}/{kind}/step{step}.txt.j2",
        message=f"no template for {kind!r} step {step} in {locale!r} or {FALLBACK_LOCALE!r}",
    )


def _reminder_template(names: list[str], locale: str, reminder_kind: str) -> str:
    for loc in _locale_chain(names, locale):
        name = f"{loc}/reminder/{reminder_kind}.txt.j2"
        if name in names:
            return name
    raise TemplateNotFound(
        f"{locale}/reminder/{reminder_kind}.txt.j2",
        message=f"no reminder template {reminder_kind!r} in {locale!r} or {FALLBACK_LOCALE!r}",
    )


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
        text = _clean_line(str(getattr(v, name) or ""))
        if name == "stage":
            text = _STAGE_SEPARATORS.sub("-", text.casefold())
        ctx[name] = text or _missing(name)
    signature = _clean(v.consultant_signature or "").strip() or _clean_line(v.consultant_name)
    ctx["consultant_signature"] = signature or _missing("consultant_signature")
    given = _clean_line(v.salutation) if v.salutation is not None else ""
    ctx["salutation"] = given or salutation(v.contact_name, locale, v.other_names)
    ctx["days_silent"] = int(v.days_silent)
    ctx["step"] = int(v.step)
    ctx["kind"] = _clean_line(v.kind)
    report = ctx["salary_report"]
    is_link = bool(report) and re.match(r"(?i)https?://", report) is not None
    ctx["salary_report_link"] = report if is_link else _missing("salary_report_link")
    file_name = re.split(r"[\\/]", report)[-1] if report and not is_link else ""
    ctx["salary_report_file"] = file_name or _missing("salary_report_file")
    ctx["salary_negotiation"] = bool(ctx["stage"]) and ctx["stage"] in SALARY_STAGES
    return ctx


def _render(env: Environment, name: str, v: DraftVars) -> str:
    locale = name.split("/", 1)[0]
    return _finish(env.get_template(name).render(_context(v, locale)))


def _split_reminder(text: str) -> tuple[str, str]:
    """(first line, the rest); `_finish` already dropped leading blank lines."""
    summary, _, description = text.partition("\n")
    description = description.strip("\n")
    return _clean_line(summary), (description + "\n" if description else "")


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
    env = _environment(templates_dir)
    names = env.list_templates()
    name = _step_template(names, locale, _checked("kind", kind), step)
    return _render(env, name, dataclasses.replace(vars, kind=kind, step=step))


def render_reminder(
    locale: str, reminder_kind: str, vars: DraftVars, templates_dir: str | None = None
) -> tuple[str, str]:
    """(summary, description) of a calendar reminder: one of REMINDERS."""
    env = _environment(templates_dir)
    names = env.list_templates()
    name = _reminder_template(names, locale, _checked("reminder", reminder_kind))
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
    match = _STEP_FILE.fullmatch(file)
    try:
        template = env.get_template(name)
    except TemplateSyntaxError as exc:
        return [f"{exc.filename or name}: {exc.message}{_where(exc, None)}"]
    path = template.filename or name
    problems: list[str] = []
    seen: set[str] = set()
    for label, sample in _samples(kind, int(match.group(1)) if match else 2):
        try:
            text = _render(env, name, sample)
        # Everything a template can raise is a problem to list, never a crash of `check`.
        except Exception as exc:
            problem = f"{path}: {type(exc).__name__}: {exc}{_where(exc, template.filename)}"
        else:
            if kind == "reminder":
                empty = not _split_reminder(text)[0]
                problem = f"{path}: the first line (the summary) is empty" if empty else ""
            else:
                problem = f"{path}: the body is empty" if not text.strip() else ""
        if problem and problem not in seen:
            # The first sample that shows a problem says under which values it happens.
            seen.add(problem)
            problems.append(problem + label)
    return problems


def check_templates(locales: Iterable[str], templates_dir: str | None) -> list[str]:
    """Every problem with the templates the given locales will use, each as
    'path: error'; empty when all render with full and with missing values."""
    env = _environment(templates_dir)
    try:
        names = env.list_templates()
    except OSError as exc:
        return [f"{templates_dir}: cannot list templates: {exc}"]
    problems: list[str] = []
    for locale in dict.fromkeys(locales):
        chain = _locale_chain(names, locale)
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
