"""Typed, path-aware access to one JSON object of a Genesys payload (internal to ``consumer.genesys``).

Every accessor returns ``None`` when the field is absent or ``null`` (Genesys omits nulls) and raises
:class:`~consumer.errors.NormalizeError` naming the full JSON path when the field is present with the
wrong type, e.g. ``eventBody.participants[2].connectedTime: not an ISO-8601 timestamp: 'x'``.

Pure module: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from consumer.errors import NormalizeError
from consumer.genesys.times import INT64_MAX, INT64_MIN, parse_time

__all__ = ["Fields", "snake_case_keys"]

#: A snake_case key (``connected_time``): the SDK's ``to_json()``/``to_dict()`` form. The wire form, which
#: Genesys sends and ``ApiClient().sanitize_for_serialization()`` writes, is camelCase and has no ``_``.
_SNAKE_CASE: Final = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")


def snake_case_keys(data: Mapping[str, Any]) -> list[str]:
    """The keys of ``data`` in snake_case (see :data:`_SNAKE_CASE`)."""
    return [key for key in data if type(key) is str and "_" in key and _SNAKE_CASE.match(key)]


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class Fields:
    """A JSON object plus the path it was found at, for precise error messages."""

    __slots__ = ("data", "path")

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise NormalizeError(f"{path}: expected a JSON object, got {_kind(data)}")
        self.data: Mapping[str, Any] = data
        self.path = path

    def at(self, key: str) -> str:
        """The JSON path of ``key`` in this object."""
        return f"{self.path}.{key}"

    def reject_snake_case(self) -> None:
        """Raise when this object has snake_case keys: the SDK's ``to_json()`` form, whose fields would
        otherwise be read as absent and their data silently lost."""
        keys = snake_case_keys(self.data)
        if keys:
            raise NormalizeError(
                f"{self.at(keys[0])}: snake_case field names ({', '.join(keys[:3])}) are the Genesys SDK's "
                f"to_json() form, not the wire form: serialize with ApiClient().sanitize_for_serialization() "
                f"(camelCase, e.g. {_camel(keys[0])!r})"
            )

    def has(self, key: str) -> bool:
        """Whether ``key`` is present with a non-null value."""
        return self.data.get(key) is not None

    def text(self, key: str) -> str | None:
        """A string field; empty strings read as ``None`` (Genesys sends ``""`` for "no value")."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise NormalizeError(f"{self.at(key)}: expected a string, got {_kind(value)}")
        return value or None

    def req_text(self, key: str) -> str:
        """A required, non-empty string field."""
        value = self.text(key)
        if value is None:
            raise NormalizeError(f"{self.at(key)} missing")
        return value

    def lower(self, key: str) -> str | None:
        """A string field, lowercased (enum-like values: states, purposes, directions)."""
        value = self.text(key)
        return None if value is None else value.lower()

    def flag(self, key: str) -> bool | None:
        """A boolean field."""
        value = self.data.get(key)
        if value is None or isinstance(value, bool):
            return value
        raise NormalizeError(f"{self.at(key)}: expected a boolean, got {_kind(value)}")

    def integer(self, key: str) -> int | None:
        """An integer field (an integral float is accepted)."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise NormalizeError(f"{self.at(key)}: expected an integer, got {_kind(value)}")
        if not INT64_MIN <= value <= INT64_MAX:
            raise NormalizeError(f"{self.at(key)}: integer out of range (64 bits): {value}")
        return value

    def number(self, key: str) -> float | None:
        """A number field, as float."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise NormalizeError(f"{self.at(key)}: expected a number, got {_kind(value)}")
        try:
            return float(value)
        except OverflowError:
            raise NormalizeError(f"{self.at(key)}: number out of range: {value}") from None

    def time(self, key: str) -> int | None:
        """A time field (ISO-8601 string or epoch ms) as epoch milliseconds."""
        value = self.data.get(key)
        if value is None or value == "":
            return None
        try:
            return parse_time(value)
        except ValueError as exc:
            raise NormalizeError(f"{self.at(key)}: {exc}") from None

    def obj(self, key: str) -> Fields | None:
        """A nested object field."""
        value = self.data.get(key)
        return None if value is None else Fields(value, self.at(key))

    def objs(self, key: str) -> list[Fields]:
        """A list-of-objects field (absent reads as empty)."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise NormalizeError(f"{self.at(key)}: expected a list, got {_kind(value)}")
        return [Fields(item, f"{self.at(key)}[{index}]") for index, item in enumerate(value)]

    def texts(self, key: str) -> tuple[str, ...]:
        """A list-of-strings field (absent reads as empty)."""
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise NormalizeError(f"{self.at(key)}: expected a list of strings")
        return tuple(value)

    def text_map(self, key: str) -> dict[str, str]:
        """A ``map<string,string>`` field; non-string values are kept as their JSON text."""
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise NormalizeError(f"{self.at(key)}: expected a JSON object, got {_kind(value)}")
        return {
            str(name): item if isinstance(item, str) else json.dumps(item, sort_keys=True)
            for name, item in value.items()
        }


def _kind(value: object) -> str:
    """The JSON type name of ``value`` for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
