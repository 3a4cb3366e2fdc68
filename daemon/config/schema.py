"""Reading TOML values into typed values while collecting every problem.

`daemon.config.loader` reads ghostwatch's own sections with these helpers; the
same machinery builds each connector's `Settings` dataclass from its fields and
type hints, so a connector declares its settings once and the loader needs no
per-connector code (Radicale's schema-driven `Configuration.update`).

Nothing here raises on a bad value: a `Reader` records a `Problem` and returns
`BAD`, so one pass over the file reports everything the user has to fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from connectors.secrets import SecretSource

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


# --- generic dataclass settings ------------------------------------------------------


def is_secret_type(tp: object) -> bool:
    return tp is SecretSource or _unwrap_optional(tp) is SecretSource


def _unwrap_optional(tp: object) -> object:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def converter_for(tp: object, name: str, default: object) -> Converter | ListOf:
    """A converter for one dataclass field type; TypeError for a type TOML
    cannot express (that is a connector bug, not a user mistake)."""
    tp = _unwrap_optional(tp)
    origin = typing.get_origin(tp)
    if tp is bool:
        return to_bool
    if tp is int:
        return to_int(name, default if isinstance(default, int) else None)
    if tp is float:
        return to_float
    if tp is str:
        return to_str
    if tp is Path:
        return lambda value: Path(to_str(value))
    if origin is Literal:
        return one_of(typing.get_args(tp), fold_case=False)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            item = converter_for(args[0], name, None)
            if isinstance(item, ListOf):
                raise TypeError(f"nested lists are not supported for {name}")
            return ListOf(item)
    raise TypeError(f"cannot read a setting of type {tp!r} ({name})")


def settings_keys(cls: type) -> list[str]:
    """The TOML keys a connector's Settings accepts, secrets spelled out."""
    keys: list[str] = []
    for f, tp in _fields_with_hints(cls):
        if is_secret_type(tp):
            keys.extend(f"{f.name}_{suffix}" for suffix in SECRET_SUFFIXES)
        else:
            keys.append(f.name)
    return keys


def _fields_with_hints(cls: type) -> list[tuple[dataclasses.Field[Any], object]]:
    # Connector modules may import SecretSource only for type checking.
    hints = typing.get_type_hints(cls, localns={"SecretSource": SecretSource})
    return [(f, hints[f.name]) for f in dataclasses.fields(cls) if f.init]


def _has_default(f: dataclasses.Field[Any]) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def build_settings(
    reader: Reader,
    cls: type,
    table: Mapping[str, Any],
    path: str,
    *,
    ignore: Iterable[str] = (),
) -> Any:
    """An instance of dataclass `cls` from `table`, or BAD after reporting.

    `ignore` names keys the caller reads itself (the connector `type`).
    """
    try:
        fields = _fields_with_hints(cls)
    except Exception as exc:  # a broken annotation in a connector must not hide user errors
        reader.problem(path, None, f"{cls.__module__}.Settings cannot be read: {exc}")
        return BAD
    before = len(reader.problems)
    # "password" is refused even where the connector takes no secret at all,
    # so a pasted password is never echoed back as a mere "unknown key".
    secret_fields = {"password", *(f.name for f, tp in fields if is_secret_type(tp))}
    reader.unknown_keys(table, [*settings_keys(cls), *ignore], path, secrets=secret_fields)
    values: dict[str, Any] = {}
    for f, tp in fields:
        if is_secret_type(tp):
            secret = _secret(reader, table, f, path)
            if secret is not MISSING:
                values[f.name] = secret
            continue
        try:
            conv = converter_for(tp, f.name, f.default)
        except TypeError as exc:
            reader.problem(join(path, f.name), None, f"{exc}; this is a bug in {cls.__module__}")
            continue
        default = DEFAULT if _has_default(f) else MISSING
        value = reader.field(table, f.name, path, conv, default, example=_example(tp))
        if value is not BAD and value is not DEFAULT:
            values[f.name] = value
    if len(reader.problems) > before:
        return BAD
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:
        # Settings may check combinations in __post_init__ (plain text to a
        # remote host); report that like any other bad value.
        reader.problem(path, None, str(exc))
        return BAD
    except Exception as exc:  # e.g. connectors.errors.ConfigProblem
        reader.problem(path, None, str(exc) or type(exc).__name__)
        return BAD


def _secret(reader: Reader, table: Mapping[str, Any], f: dataclasses.Field[Any], path: str) -> Any:
    given = {s: table[f"{f.name}_{s}"] for s in SECRET_SUFFIXES if f"{f.name}_{s}" in table}
    ok = True
    for suffix, value in given.items():
        key = f"{f.name}_{suffix}"
        if not isinstance(value, str) or not value.strip():
            reader.problem(join(path, key), value, f"{describe(value)} is not a {suffix} name")
            ok = False
    if len(given) > 1:
        names = " and ".join(f"{f.name}_{s}" for s in given)
        reader.problem(path, None, f"{names} are both set; keep exactly one")
        ok = False
    if not ok:
        return BAD
    if not given:
        # An inline secret was already reported; "no source" would only repeat it.
        if _has_default(f) or f.name in table:
            return MISSING
        sources = " / ".join(f"{f.name}_{s}" for s in SECRET_SUFFIXES)
        reader.problem(join(path, f.name), None, f"no {f.name} source; add one of {sources}")
        return BAD
    # `~` stays as written: SecretSource expands it when it reads the file,
    # so the config stays valid under a different $HOME (systemd, containers).
    return SecretSource(**given)


def _example(tp: object) -> str:
    tp = _unwrap_optional(tp)
    if tp in (str, Path):
        return '"..."'
    if typing.get_origin(tp) is Literal:
        return repr(typing.get_args(tp)[0]).replace("'", '"')
    if typing.get_origin(tp) is tuple:
        return '["..."]'
    if tp is bool:
        return "true"
    return ""


def freeze(value: object) -> object:
    """Raw TOML made immutable, for calendar tables no connector reads yet."""
    if isinstance(value, dict):
        return types.MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value
