"""The schema registry adapter and `convstream schemas` against the real registry (Apicurio ccompat)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from consumer.adapters.schema_registry import (
    BACKWARD_TRANSITIVE,
    EventDeserializer,
    SchemaRegistry,
    event_serializer,
    subject_for,
)
from consumer.codec.schemas import CONVERSATION_EVENT, QUEUE, schema_text
from consumer.domain.events import ConversationEvent, DetailEvent
from consumer.errors import RegistryUnavailableError, SchemaCompatibilityError, UnknownSchemaError
from consumer.settings import SchemaRegistrySettings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def registry(registry_url: str) -> Any:
    adapter = SchemaRegistry(SchemaRegistrySettings(url=registry_url, timeout_seconds=5))
    yield adapter
    adapter.close()


def _with_field(stem: str, new_field: dict[str, Any]) -> str:
    doc = json.loads(schema_text(stem))
    doc["fields"].append(new_field)
    return json.dumps(doc)


def test_register_and_fetch_by_id(registry: SchemaRegistry, unique_name: Callable[[str], str]) -> None:
    subject = subject_for(unique_name("events"))
    schema_id = registry.register(subject, schema_text(CONVERSATION_EVENT))
    assert registry.register(subject, schema_text(CONVERSATION_EVENT)) == schema_id  # idempotent
    assert registry.lookup(subject, schema_text(CONVERSATION_EVENT)) == schema_id
    writer = registry.writer_schema(schema_id)
    assert writer.name == "io.convstream.v1.ConversationEvent"
    assert registry.versions(subject) == [1]


def test_writer_schema_is_cached_by_id(registry: SchemaRegistry, unique_name: Callable[[str], str]) -> None:
    schema_id = registry.register(subject_for(unique_name("queues")), schema_text(QUEUE))
    calls: list[int] = []
    inner = registry.client.get_schema

    def counting(schema_id: int, *args: Any, **kwargs: Any) -> Any:
        calls.append(schema_id)
        return inner(schema_id, *args, **kwargs)

    registry.client.get_schema = counting  # type: ignore[method-assign]
    first = registry.writer_schema(schema_id)
    second = registry.writer_schema(schema_id)
    assert second is first
    assert calls == [schema_id]


def test_unknown_id_is_unknown_schema(registry: SchemaRegistry) -> None:
    with pytest.raises(UnknownSchemaError) as info:
        registry.writer_schema(987_654_321)
    assert info.value.schema_id == 987_654_321


def test_unreachable_registry_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The port is closed again when the socket is: connection refused.
    adapter = SchemaRegistry(SchemaRegistrySettings(url=f"http://127.0.0.1:{port}", timeout_seconds=2))
    with pytest.raises(RegistryUnavailableError):
        adapter.writer_schema(1)
    with pytest.raises(RegistryUnavailableError):
        adapter.register("x-value", schema_text(QUEUE))


def test_registry_enforces_backward_transitive(
    registry: SchemaRegistry, unique_name: Callable[[str], str]
) -> None:
    subject = subject_for(unique_name("queues"))
    registry.register(subject, schema_text(QUEUE))
    registry.set_compatibility(subject, BACKWARD_TRANSITIVE)
    assert registry.compatibility(subject) == BACKWARD_TRANSITIVE
    breaking = _with_field(QUEUE, {"name": "tier", "type": "int"})
    compatible = _with_field(QUEUE, {"name": "tier", "type": ["null", "int"], "default": None})
    assert registry.check_compatibility(subject, breaking, 1) is False
    assert registry.check_compatibility(subject, compatible, 1) is True
    with pytest.raises(SchemaCompatibilityError):
        registry.register(subject, breaking)
    assert registry.register(subject, compatible) > 0
    assert registry.versions(subject) == [1, 2]


def test_serializer_and_deserializer_round_trip(
    registry: SchemaRegistry, unique_name: Callable[[str], str]
) -> None:
    serializer = event_serializer(registry, unique_name("events"))
    schema_id = serializer.prepare()
    event = ConversationEvent(
        event_id="e" * 64,
        conversation_id="c-1",
        event_time=1,
        received_at=2,
        source="simulator",
        topic_name="v2.detail.events.conversation.c-1.customer.start",
        topic_pattern="v2.detail.events.conversation.{id}.customer.start",
        body=DetailEvent(kind="customer.start"),
    )
    value = serializer(event)
    assert value[:5] == b"\x00" + schema_id.to_bytes(4, "big")
    assert EventDeserializer(registry)(value) == event


def _convstream(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "consumer.cli", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_register_then_check_against_registry(
    registry_url: str, unique_name: Callable[[str], str]
) -> None:
    events, queues = unique_name("events"), unique_name("queues")
    env = {
        "CONVSTREAM_SCHEMA_REGISTRY__URL": registry_url,
        "CONVSTREAM_TOPICS__EVENTS": events,
        "CONVSTREAM_TOPICS__QUEUES": queues,
    }
    registered = _convstream(["schemas", "register"], env)
    assert registered.returncode == 0, registered.stderr
    assert f"{events}-value: id " in registered.stdout
    assert f"{queues}-value: id " in registered.stdout
    checked = _convstream(["schemas", "check", "--registry"], env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "schemas: compatible" in checked.stdout
    assert f"registry: {events}-value: checked against 1 version(s)" in checked.stdout


def test_cli_check_registry_unreachable_exits_4(unique_name: Callable[[str], str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _convstream(
        ["schemas", "check", "--registry"],
        {
            "CONVSTREAM_SCHEMA_REGISTRY__URL": f"http://127.0.0.1:{port}",
            "CONVSTREAM_TOPICS__EVENTS": unique_name("e"),
        },
    )
    assert result.returncode == 4, result.stdout + result.stderr
