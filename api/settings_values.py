"""Turning a TOML or environment value into a setting's declared type."""

from __future__ import annotations

import math
from contextlib import suppress
from pathlib import Path
from typing import Any, Literal, get_args

from api.settings_checks import SettingsError

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _describe(choices: list[Any]) -> str:
    words: list[str] = []
    for choice in choices:
        words += ["true", "false"] if choice is bool else [str(o) for o in get_args(choice)]
    return ", ".join(words[:-1]) + " or " + words[-1]


def convert(name: str, annotation: Any, raw: object) -> object:
    """Turn a TOML or environment value into the field's type, or raise naming the field."""
    options = get_args(annotation)
    if raw is None or (isinstance(raw, str) and raw == "" and type(None) in options):
        if type(None) in options:
            return None
        raise SettingsError(name, "a value is required")
    choices = [o for o in options if o is not type(None)] if options else [annotation]
    if len(choices) > 1 and getattr(annotation, "__origin__", None) is not Literal:
        # A union such as `bool | Literal["authenticated"]`: the first choice that fits wins.
        for choice in choices:
            with suppress(SettingsError):
                return convert(name, choice, raw)
        raise SettingsError(name, f"must be {_describe(choices)}, got {raw!r}")
    base = annotation
    if type(None) in options:
        base = choices[0]
    literal_options = get_args(base) if getattr(base, "__origin__", None) is Literal else ()
    if literal_options:
        if raw not in literal_options:
            raise SettingsError(name, f"must be one of {', '.join(map(str, literal_options))}")
        return raw
    if base is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise SettingsError(name, f"expected true or false, got {raw!r}")
    if base is int:
        if isinstance(raw, bool):
            raise SettingsError(name, "expected an integer")
        try:
            return int(str(raw).strip())
        except ValueError:
            raise SettingsError(name, f"expected an integer, got {raw!r}") from None
    if base is float:
        if isinstance(raw, bool):
            raise SettingsError(name, "expected a number")
        try:
            value = float(str(raw).strip())
        except ValueError:
            raise SettingsError(name, f"expected a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise SettingsError(name, f"expected a finite number, got {raw!r}")
        return value
    if base is Path:
        if not isinstance(raw, str):
            raise SettingsError(name, "expected a path")
        return Path(raw).expanduser()
    if base is str:
        if not isinstance(raw, str):
            raise SettingsError(name, "expected a string")
        return raw
    raise SettingsError(name, f"unsupported type {base!r}")  # pragma: no cover - declaration bug
