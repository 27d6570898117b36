"""The packaged schemas are the canonical ones, and parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.codec.schemas import SCHEMA_STEMS, SchemaError, current, parse, schema_text

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("stem", SCHEMA_STEMS)
def test_packaged_copy_is_byte_identical_to_canonical_schema(stem: str) -> None:
    canonical = (REPO / "schemas" / f"{stem}.avsc").read_bytes()
    packaged = (REPO / "consumer" / "schemas" / f"{stem}.avsc").read_bytes()
    assert packaged == canonical, f"run: cp schemas/{stem}.avsc consumer/schemas/"
    assert schema_text(stem).encode("utf-8") == canonical


@pytest.mark.parametrize("stem", SCHEMA_STEMS)
def test_current_release_is_in_history(stem: str) -> None:
    versions = sorted((REPO / "schemas" / "history" / stem).glob("v*.avsc"))
    assert versions, f"schemas/history/{stem}/ has no released version"


@pytest.mark.parametrize("stem", SCHEMA_STEMS)
def test_every_field_has_a_doc(stem: str) -> None:
    import json

    def walk(node: object) -> list[str]:
        missing: list[str] = []
        if isinstance(node, dict):
            if "fields" in node:
                missing += [f["name"] for f in node["fields"] if not f.get("doc")]
            for value in node.values():
                missing += walk(value)
        elif isinstance(node, list):
            for item in node:
                missing += walk(item)
        return missing

    assert walk(json.loads(schema_text(stem))) == []


def test_parsed_schema_has_no_timestamp_logical_type_and_keeps_text() -> None:
    schema = current("conversation_event")
    assert "timestamp-millis" in schema.text
    assert "timestamp-millis" not in repr(schema.parsed)
    assert schema.name == "io.convstream.v1.ConversationEvent"
    assert current("conversation_event") is schema


def test_fingerprint_ignores_docs_and_defaults_only() -> None:
    a = parse('{"type":"record","name":"R","fields":[{"name":"x","type":"long","doc":"one"}]}')
    b = parse('{"type":"record","name":"R","doc":"d","fields":[{"name":"x","type":"long"}]}')
    c = parse('{"type":"record","name":"R","fields":[{"name":"x","type":"int"}]}')
    assert a.fingerprint == b.fingerprint != c.fingerprint


@pytest.mark.parametrize(
    "text",
    ["not json", '{"type":"record","name":"R","fields":[{"name":"x","type":"nope"}]}', '{"type":"nope"}'],
)
def test_parse_rejects_invalid_schemas(text: str) -> None:
    with pytest.raises(SchemaError):
        parse(text)
