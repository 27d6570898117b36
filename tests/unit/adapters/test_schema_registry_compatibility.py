"""Setting a subject's compatibility when another writer sets it at the same moment (no registry needed)."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka.schema_registry.error import SchemaRegistryError

from consumer.adapters.schema_registry import BACKWARD_TRANSITIVE, SchemaRegistry
from consumer.errors import SchemaCompatibilityError
from consumer.settings import SchemaRegistrySettings


class _RacingClient:
    """The first set answers 409 as Apicurio does when a concurrent writer has just created the rule."""

    def __init__(self, level_after_race: str, conflicts: int = 1) -> None:
        self.level = level_after_race
        self.conflicts = conflicts
        self.sets: list[str] = []

    def set_compatibility(self, subject_name: str, level: str) -> None:
        self.sets.append(level)
        if self.conflicts:
            self.conflicts -= 1
            raise SchemaRegistryError(409, 0, "A rule named 'COMPATIBILITY' already exists.")
        self.level = level

    def get_compatibility(self, subject_name: str) -> str:
        return self.level


def _registry(client: Any) -> SchemaRegistry:
    registry = SchemaRegistry(SchemaRegistrySettings())
    registry._client = client
    return registry


def test_a_409_from_a_concurrent_writer_that_set_the_same_level_is_success() -> None:
    client = _RacingClient(level_after_race=BACKWARD_TRANSITIVE)
    _registry(client).set_compatibility("s-value", BACKWARD_TRANSITIVE)
    assert client.sets == [BACKWARD_TRANSITIVE]


def test_a_409_leaving_another_level_is_set_again() -> None:
    client = _RacingClient(level_after_race="NONE")
    _registry(client).set_compatibility("s-value", BACKWARD_TRANSITIVE)
    assert client.sets == [BACKWARD_TRANSITIVE, BACKWARD_TRANSITIVE]
    assert client.level == BACKWARD_TRANSITIVE


def test_a_second_409_is_still_an_error() -> None:
    client = _RacingClient(level_after_race="NONE", conflicts=2)
    with pytest.raises(SchemaCompatibilityError):
        _registry(client).set_compatibility("s-value", BACKWARD_TRANSITIVE)
