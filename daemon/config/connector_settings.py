"""Each connector's `Settings` dataclass read from its TOML table, driven by the
dataclass's fields and type hints: a connector declares its settings once and
the loader needs no per-connector code (Radicale's schema-driven
`Configuration.update`). Secrets are read as `SecretSource`s from
`<name>_file`, `<name>_command` or `<name>_env`, never inline.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from connectors.secrets import SecretSource
from daemon.config.schema import (
    BAD,
    DEFAULT,
    MISSING,
    SECRET_SUFFIXES,
    Converter,
    ListOf,
    Reader,
    describe,
    join,
    one_of,
    to_bool,
    to_float,
    to_int,
    to_str,
)


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
        value = _read_field(reader, cls, table, path, f, tp)
        if value is not BAD and value is not DEFAULT and value is not MISSING:
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


def _read_field(
    reader: Reader,
    cls: type,
    table: Mapping[str, Any],
    path: str,
    f: dataclasses.Field[Any],
    tp: object,
) -> Any:
    """One field's value; MISSING or DEFAULT when the dataclass default applies, BAD
    after reporting."""
    if is_secret_type(tp):
        return _secret(reader, table, f, path)
    try:
        conv = converter_for(tp, f.name, f.default)
    except TypeError as exc:
        reader.problem(join(path, f.name), None, f"{exc}; this is a bug in {cls.__module__}")
        return BAD
    default = DEFAULT if _has_default(f) else MISSING
    return reader.field(table, f.name, path, conv, default, example=_example(tp))


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
