"""A walk over the settings model's leaf fields, shared by everything generated from it.

The chart's ``values.schema.json`` (``tests/deploy/settings_model.py``) and the environment-variable
list at the end of every ``convstream <command> --help`` (``consumer/commands/_help.py``) both come
from this one walk, so a new setting shows up in both without a second list to keep in step.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from consumer.settings import ENV_PREFIX, NESTED, Settings

__all__ = ["env_for", "is_secret", "is_section", "leaf_fields", "unwrap_optional"]


def unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; anything else -> ``(annotation, False)``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(args) != len(get_args(annotation)):
            return args[0], True
    return annotation, False


def is_section(annotation: Any) -> bool:
    """A nested settings section (a model) rather than a leaf value."""
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def leaf_fields(
    model: type[BaseModel] = Settings, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], FieldInfo]]:
    """Every leaf setting as ``(path, field)``, depth first, in declaration order."""
    for name, field in model.model_fields.items():
        annotation, _ = unwrap_optional(field.annotation)
        if is_section(annotation):
            yield from leaf_fields(annotation, (*path, name))
        else:
            yield (*path, name), field


def env_for(path: tuple[str, ...]) -> str:
    """The environment variable of a setting's path, e.g. ``CONVSTREAM_KAFKA__EXTRA``."""
    return ENV_PREFIX + NESTED.join(part.upper() for part in path)


def is_secret(field: FieldInfo) -> bool:
    """A ``SecretStr`` setting: its value (and default) is never printed."""
    return unwrap_optional(field.annotation)[0] is SecretStr
