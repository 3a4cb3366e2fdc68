"""Where draft and reminder templates come from and what runs them: the Jinja
sandbox, the loaders (a user's templates_dir over the shipped package files),
the `MissingValue` of an optional variable, and which template file serves a
locale, contact kind and step (falling back to English).
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Callable, Iterable, Iterator
from importlib.resources.abc import Traversable
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
)
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

SHIPPED_STEPS = (1, 2, 3)  # the step files every shipped locale has
FALLBACK_LOCALE = "en"


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


def missing_value(name: str) -> MissingValue:
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
def environment(templates_dir: str | None) -> Environment:
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
STEP_FILE = re.compile(r"step([0-9]+)\.txt\.j2")


def checked_name(what: str, value: str) -> str:
    if not _SAFE_NAME.fullmatch(value) or ".." in value:
        raise ValueError(f"{what} {value!r} is not a template folder name")
    return value


def _locales(names: Iterable[str]) -> set[str]:
    return {n.split("/", 1)[0] for n in names if "/" in n}


def locale_chain(names: Iterable[str], locale: str) -> list[str]:
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


def step_template(names: list[str], locale: str, kind: str, step: int) -> str:
    for loc in locale_chain(names, locale):
        steps = []
        for name in names:
            folder, _, file = name.rpartition("/")
            match = STEP_FILE.fullmatch(file)
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


def reminder_template(names: list[str], locale: str, reminder_kind: str) -> str:
    for loc in locale_chain(names, locale):
        name = f"{loc}/reminder/{reminder_kind}.txt.j2"
        if name in names:
            return name
    raise TemplateNotFound(
        f"{locale}/reminder/{reminder_kind}.txt.j2",
        message=f"no reminder template {reminder_kind!r} in {locale!r} or {FALLBACK_LOCALE!r}",
    )
