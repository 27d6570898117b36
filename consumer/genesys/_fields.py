"""Typed, path-aware access to one JSON object of a Genesys payload (internal to ``consumer.genesys``).

Every accessor returns ``None`` when the field is absent or ``null`` (Genesys omits nulls) and raises
:class:`~consumer.errors.NormalizeError` naming the full JSON path when the field is present with the
wrong type, e.g. ``eventBody.participants[2].connectedTime: not an ISO-8601 timestamp: 'x'``.

Pure module: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from consumer.errors import NormalizeError
from consumer.genesys.times import parse_time

__all__ = ["Fields"]


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
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise NormalizeError(f"{self.at(key)}: expected an integer, got {_kind(value)}")
        return value

    def number(self, key: str) -> float | None:
        """A number field, as float."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise NormalizeError(f"{self.at(key)}: expected a number, got {_kind(value)}")
        return float(value)

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
