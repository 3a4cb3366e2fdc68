"""Reading TOML values into typed values while collecting every problem.

`daemon.config.loader` reads ghostwatch's own sections with these helpers, and
`daemon.config.connector_settings` each connector's `Settings` dataclass.

Nothing here raises on a bad value: a `Reader` records a `Problem` and returns
`BAD`, so one pass over the file reports everything the user has to fix.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SECRET_SUFFIXES = ("file", "command", "env")


class _Marker:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


# MISSING: the key is absent. BAD: a problem was recorded; callers keep going
# with whatever they can build so later sections are still checked.
MISSING: Any = _Marker("MISSING")
BAD: Any = _Marker("BAD")
# DEFAULT: leave the field out so the dataclass applies its own default.
DEFAULT: Any = _Marker("DEFAULT")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in the config: where, what was there, and how to fix it.

    `message` is the whole sentence shown after the key path (it quotes the
    value itself, because "is missing" and "unknown key" read differently).
    """

    path: str
    value: object
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(Exception):
    """Every problem found in one config, raised once after reading all of it."""

    def __init__(self, problems: list[Problem], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class Invalid(Exception):
    """Raised by a converter; the message is the complete explanation."""

    def __init__(self, message: str, *, shown: object = MISSING) -> None:
        super().__init__(message)
        self.message = message
        self.shown = shown  # what Problem.value keeps instead of a value holding a secret


Converter = Callable[[object], Any]


@dataclass(frozen=True, slots=True)
class ListOf:
    """A TOML array whose items each go through `item`; a bad item is reported
    at its own index so two bad steps give two problems."""

    item: Converter
    allow_empty: bool = True


def describe(value: object) -> str:
    """The value as the user wrote it in TOML, short enough for one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def suggest(word: str, candidates: Iterable[str]) -> str:
    """' did you mean 'x'?' or the list of choices when nothing is close."""
    options = sorted(set(candidates))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "valid: " + ", ".join(options) if options else "nothing is valid here"


class Reader:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, path: str, value: object, message: str) -> None:
        self.problems.append(Problem(path, value, message))

    def table(self, raw: object, path: str, *, hint: str = "") -> dict[str, Any]:
        """`raw` as a table; anything else is reported and read as empty."""
        if isinstance(raw, dict):
            return raw
        self.problem(path, raw, f"{describe(raw)} is not a table{hint}")
        return {}

    def unknown_keys(
        self,
        table: Mapping[str, Any],
        known: Iterable[str],
        path: str,
        *,
        secrets: Iterable[str] = (),
    ) -> None:
        """Report keys nobody reads, with the closest known key.

        An inline secret (`password = "..."`) gets its own message: it is the
        one mistake that must never be silently accepted or merely "unknown".
        """
        known = set(known)
        secret_names = set(secrets)
        for key, value in table.items():
            if key in known:
                continue
            if key in secret_names:
                self.problem(join(path, key), "<hidden>", inline_secret_message(key))
            else:
                self.problem(join(path, key), value, f"unknown key {key!r}; {suggest(key, known)}")

    def field(
        self,
        table: Mapping[str, Any],
        key: str,
        path: str,
        conv: Converter | ListOf,
        default: Any = MISSING,
        *,
        example: str = "",
    ) -> Any:
        if key not in table:
            if default is MISSING:
                fix = f"; add e.g. {key} = {example}" if example else ""
                self.problem(join(path, key), None, f"required key {key!r} is missing{fix}")
                return BAD
            return default
        return self.value(table[key], join(path, key), conv)

    def value(self, raw: object, path: str, conv: Converter | ListOf) -> Any:
        if isinstance(conv, ListOf):
            return self._items(raw, path, conv)
        try:
            return conv(raw)
        except Invalid as exc:
            self.problem(path, raw if exc.shown is MISSING else exc.shown, exc.message)
            return BAD

    def _items(self, raw: object, path: str, conv: ListOf) -> Any:
        if not isinstance(raw, list):
            self.problem(path, raw, f'{describe(raw)} is not a list; write ["...", "..."]')
            return BAD
        if not raw and not conv.allow_empty:
            self.problem(path, raw, "the list is empty; give at least one item")
            return BAD
        items = [self.value(item, f"{path}[{i}]", conv.item) for i, item in enumerate(raw)]
        return BAD if any(item is BAD for item in items) else tuple(items)


def inline_secret_message(key: str) -> str:
    sources = " / ".join(f"{key}_{suffix}" for suffix in SECRET_SUFFIXES)
    return (
        f"an inline {key} is refused (the config file is not a safe place for it): "
        f"secrets only via {sources}"
    )


# --- converters for plain TOML types -------------------------------------------------


def _article(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def to_str(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{describe(value)} is not text; put it in quotes")
    return value


def nonempty_str(value: object) -> str:
    text = to_str(value).strip()
    if not text:
        raise Invalid("an empty value is not allowed here")
    return text


def to_int(name: str = "", example: object = None) -> Converter:
    def conv(value: object) -> int:
        # bool is an int in Python, but `port = true` is a mistake, not 1
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        hint = "; write digits without quotes"
        if name and example is not None:
            hint = f"; use {_article(name.replace('_', ' '))} like {example}"
        raise Invalid(f"{describe(value)} is not a whole number{hint}")

    return conv


def to_float(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise Invalid(f"{describe(value)} is not a number; write e.g. 30 or 2.5 (no quotes)")


def to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise Invalid(f"{describe(value)} is not true or false; write true or false without quotes")


def one_of(choices: Iterable[object], *, fold_case: bool = True) -> Converter:
    options = tuple(choices)

    def conv(value: object) -> object:
        probe = value.lower() if fold_case and isinstance(value, str) else value
        for option in options:
            folded = option.lower() if fold_case and isinstance(option, str) else option
            if probe == folded and type(value) is type(option):
                return option
        valid = " | ".join(str(o) for o in options)
        text = value if isinstance(value, str) else describe(value)
        close = difflib.get_close_matches(str(text), [str(o) for o in options], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise Invalid(f"{describe(value)} is not one of {valid}{hint}")

    return conv


def freeze(value: object) -> object:
    """Raw TOML made immutable, for calendar tables no connector reads yet."""
    if isinstance(value, dict):
        return types.MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value
