"""Help for people: the parts of ``convstream <command> --help`` that every command shares.

A command module gives its user-facing text as plain constants (its docstring stays the developer
contract): ``DESCRIPTION`` (what it does, what it reads and writes), ``EXAMPLE`` (command lines),
``EXIT_CODES`` (built with :func:`exit_codes`), ``SETTINGS`` (the settings sections it reads, listed in
full) and optionally ``OTHER_SETTINGS`` (sections it also reads, named in one line each) and ``NOTES``.
:func:`epilog` puts them together; the settings lines are generated from the settings model through
:mod:`consumer.settings_fields`, the same walk that generates the chart's ``values.schema.json``, so a
new setting appears in ``--help`` with its default and ``description=``. Secret defaults are never shown.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any, Final, Literal, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from consumer.errors import EXIT_MEANINGS
from consumer.settings import ENV_PREFIX, NESTED, Settings
from consumer.settings_fields import env_for, is_secret, leaf_fields, unwrap_optional

__all__ = ["EXIT_MEANINGS", "SECTION_HOME", "epilog", "exit_codes", "program_epilog", "settings_lines"]

#: The command whose ``--help`` lists a settings section in full, and what the section is about.
SECTION_HOME: Final[Mapping[str, tuple[str, str]]] = {
    "kafka": ("check", "Kafka connection and security"),
    "schema_registry": ("check", "schema registry URL and credentials"),
    "postgres": ("check", "PostgreSQL connection and table"),
    "topics": ("bridge", "topic names and how created topics look"),
    "bridge": ("bridge", "the bridge's source and producer"),
    "consumer": ("consume", "consumer group and batching"),
    "observability": ("consume", "logs, metrics and health endpoints"),
    "genesys": ("backfill", "the Genesys Cloud client, subscriptions, backfill and personal data"),
}

_WIDTH: Final = 100
_NAME_COLUMN: Final = 42


def exit_codes(specific: Mapping[int, str], *generic: int) -> dict[int, str]:
    """The command's own exit code texts plus the shared meaning of the ``generic`` codes, in order."""
    codes = {**{code: EXIT_MEANINGS[code] for code in generic}, **specific}
    return dict(sorted(codes.items()))


def _section_model(section: str) -> type[BaseModel]:
    model, _ = unwrap_optional(Settings.model_fields[section].annotation)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise KeyError(f"{section} is not a settings section")
    return model


def _default(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        return field.default_factory()  # type: ignore[call-arg]
    return None if field.default is PydanticUndefined else field.default


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _explain(field: FieldInfo) -> str:
    """``description; one of a | b (default x)``; a secret's default is never shown."""
    text = field.description or ""
    annotation, _ = unwrap_optional(field.annotation)
    if get_origin(annotation) is Literal:
        text += f"; one of {' | '.join(str(choice) for choice in get_args(annotation))}"
    if is_secret(field):
        return text + " (secret)"
    default = _default(field)
    if default is None or default == "":
        return text
    assert not isinstance(default, SecretStr)
    return f"{text} (default {_shown(default)})"


def _line(name: str, text: str) -> list[str]:
    indent = " " * _NAME_COLUMN
    if len(name) + 4 > _NAME_COLUMN:
        return [f"  {name}", *textwrap.wrap(text, _WIDTH, initial_indent=indent, subsequent_indent=indent)]
    first = f"  {name}".ljust(_NAME_COLUMN)
    return textwrap.wrap(text, _WIDTH, initial_indent=first, subsequent_indent=indent)


def settings_lines(sections: Iterable[str], others: Iterable[str] = ()) -> list[str]:
    """Every setting of ``sections`` with its meaning and default; one line per section of ``others``."""
    lines: list[str] = []
    for section in sections:
        for path, field in leaf_fields(_section_model(section), (section,)):
            lines += _line(env_for(path), _explain(field))
    for section in others:
        home, about = SECTION_HOME[section]
        lines += _line(f"{ENV_PREFIX}{section.upper()}{NESTED}*", f"{about} (`convstream {home} --help`)")
    return lines


def epilog(module: ModuleType) -> str:
    """The text after the options: notes, example, exit codes and the settings the command reads."""
    parts: list[str] = []
    notes = getattr(module, "NOTES", "")
    if notes:
        parts.append(textwrap.dedent(notes).strip())
    example = textwrap.dedent(module.EXAMPLE).strip().splitlines()
    parts.append("\n".join(["example:", *(f"  {line}" for line in example)]))
    codes: Mapping[int, str] = module.EXIT_CODES
    parts.append("\n".join(["exit codes:", *(f"  {code:>3}  {text}" for code, text in codes.items())]))
    sections: tuple[str, ...] = getattr(module, "SETTINGS", ())
    others: tuple[str, ...] = getattr(module, "OTHER_SETTINGS", ())
    if sections or others:
        header = "settings (environment variables; NAME_FILE=/path reads the value of NAME from a file):"
        parts.append("\n".join([header, *settings_lines(sections, others)]))
    return "\n\n".join(parts)


def program_epilog() -> str:
    """The text after the command list of ``convstream --help``."""
    codes = "\n".join(f"  {code:>3}  {text}" for code, text in EXIT_MEANINGS.items())
    return (
        "example:\n  convstream demo\n  convstream bridge --help\n\n"
        f"exit codes (each command's --help says what they mean for it):\n{codes}\n\n"
        "settings: CONVSTREAM_* environment variables (README, Configuration); each command's --help lists\n"
        "the ones it reads, with their defaults."
    )
