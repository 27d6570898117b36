"""The Avro schemas of the topic contract, loaded once, and parsing of writer schemas.

Where the files live (decided once, checked by a test):

- ``schemas/*.avsc`` at the repository root is the canonical, human-edited contract;
  ``schemas/history/<stem>/v<N>.avsc`` keeps every released version (see ``convstream schemas check``).
- ``consumer/schemas/*.avsc`` are byte-identical copies shipped in the wheel (package data). The codec
  always reads the packaged copies, so an installed package and a source checkout behave the same;
  ``tests/unit/codec/test_schemas.py`` fails when a copy drifts from the canonical file
  (fix: ``cp schemas/*.avsc consumer/schemas/``).

Parsing strips ``logicalType: timestamp-millis``: the binary encoding is the same ``long``, and the domain
wants epoch milliseconds (int), so the decoder never builds ``datetime`` objects only to convert them back.
The registered schema text keeps its logical types.

Reads packaged resource files (the schema contract) on first use and nothing else; no network, no clock.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final

from fastavro import parse_schema
from fastavro.schema import SchemaParseException, to_parsing_canonical_form

__all__ = [
    "CONVERSATION_EVENT",
    "QUEUE",
    "SCHEMA_STEMS",
    "AvroSchema",
    "SchemaError",
    "current",
    "parse",
    "schema_text",
]

CONVERSATION_EVENT: Final = "conversation_event"
QUEUE: Final = "queue"
#: The stems of ``schemas/<stem>.avsc``; each is registered under one topic's ``<topic>-value`` subject.
SCHEMA_STEMS: Final = (CONVERSATION_EVENT, QUEUE)

_STRIPPED_LOGICAL_TYPES: Final = frozenset({"timestamp-millis"})


class SchemaError(ValueError):
    """A schema text is not valid JSON or not a valid Avro schema."""


@dataclass(frozen=True, slots=True, eq=False)
class AvroSchema:
    """A parsed Avro schema ready for fastavro, with the identity needed to skip resolution.

    Attributes:
        text: the schema as registered (logical types kept).
        parsed: fastavro's parsed form, ``timestamp-millis`` stripped (decodes to int ms).
        fingerprint: SHA-256 of the Parsing Canonical Form; equal fingerprints mean identical binary layout,
            so a reader with the same fingerprint as the writer needs no schema resolution.
        name: the full name of the top-level type (e.g. ``io.convstream.v1.ConversationEvent``).
    """

    text: str
    parsed: Any = field(repr=False)
    fingerprint: str
    name: str


def _strip_logical_types(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _strip_logical_types(v) for k, v in node.items()}
        if out.get("logicalType") in _STRIPPED_LOGICAL_TYPES:
            del out["logicalType"]
        return out
    if isinstance(node, list):
        return [_strip_logical_types(item) for item in node]
    return node


def parse(text: str) -> AvroSchema:
    """Parse an Avro schema text (from a file or from the registry).

    Raises:
        SchemaError: not JSON, or not a valid Avro schema.
    """
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise SchemaError(f"schema is not JSON: {exc}") from exc
    try:
        parsed = parse_schema(_strip_logical_types(document))
        canonical = to_parsing_canonical_form(document)
    except (SchemaParseException, ValueError, TypeError, KeyError) as exc:
        raise SchemaError(f"not a valid Avro schema: {exc}") from exc
    name = parsed.get("name", "") if isinstance(parsed, dict) else ""
    return AvroSchema(
        text=text,
        parsed=parsed,
        fingerprint=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        name=str(name),
    )


@functools.cache
def schema_text(stem: str) -> str:
    """The packaged text of ``schemas/<stem>.avsc`` (byte-identical to the repository's canonical file).

    Raises:
        KeyError: ``stem`` is not one of :data:`SCHEMA_STEMS`.
    """
    if stem not in SCHEMA_STEMS:
        raise KeyError(f"unknown schema {stem!r}; known: {', '.join(SCHEMA_STEMS)}")
    return resources.files("consumer").joinpath("schemas", f"{stem}.avsc").read_text(encoding="utf-8")


@functools.cache
def current(stem: str) -> AvroSchema:
    """The current (reader and writer) schema for ``stem``, parsed once per process."""
    return parse(schema_text(stem))
