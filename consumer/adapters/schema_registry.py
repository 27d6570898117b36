"""The Confluent-compatible schema registry (Confluent, or Apicurio's ``/apis/ccompat/v7``).

Wraps confluent-kafka's ``SchemaRegistryClient``; connects lazily (no network in ``__init__``); returns our
types; translates its errors, classified by HTTP status and registry error code, never by message text:

- no HTTP answer (connection refused, DNS, timeout), or HTTP 408/429/5xx -> :class:`RegistryUnavailableError`
  (transient: retry, never dead-letter);
- 404 with error code 40403 (schema not found) for an id -> :class:`UnknownSchemaError` (poison);
- 404 without a registry error code (a wrong base URL answers like that) -> :class:`RegistryUnavailableError`,
  so a misconfigured URL never dead-letters good records;
- 401/403 -> :class:`ConfigError` naming the credentials variable;
- 409 (incompatible) and 422 (invalid schema) on register -> :class:`SchemaCompatibilityError`;
- anything else -> :class:`ConvstreamError`.

Writer schemas are cached by id for the life of the process (ids are immutable); misses are not cached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final, Generic, TypeVar

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError
from confluent_kafka.schema_registry.common._httpx_compat import httpx

from consumer.codec.avro import decode_value, encode_event
from consumer.codec.schemas import CONVERSATION_EVENT, AvroSchema, SchemaError, parse, schema_text
from consumer.codec.wire import frame
from consumer.domain.events import ConversationEvent
from consumer.errors import (
    ConfigError,
    ConvstreamError,
    PayloadDecodeError,
    RegistryUnavailableError,
    SchemaCompatibilityError,
    UnknownSchemaError,
)
from consumer.observability.logging import register_secret
from consumer.settings import SchemaRegistrySettings

__all__ = [
    "BACKWARD_TRANSITIVE",
    "EventDeserializer",
    "SchemaRegistry",
    "ValueSerializer",
    "event_serializer",
    "subject_for",
]

log = logging.getLogger(__name__)

BACKWARD_TRANSITIVE: Final = "BACKWARD_TRANSITIVE"
_SCHEMA_NOT_FOUND: Final = 40403
_SUBJECT_NOT_FOUND: Final = 40401
_VERSION_NOT_FOUND: Final = 40402
_NOT_FOUND_CODES: Final = frozenset({_SUBJECT_NOT_FOUND, _VERSION_NOT_FOUND, _SCHEMA_NOT_FOUND})
_TRANSIENT_STATUS: Final = frozenset({408, 429})

T = TypeVar("T")


def subject_for(topic: str) -> str:
    """The TopicNameStrategy subject of a topic's values: ``<topic>-value``."""
    return f"{topic}-value"


def _is_not_found(exc: SchemaRegistryError) -> bool:
    return exc.http_status_code == 404 and exc.error_code in _NOT_FOUND_CODES


class SchemaRegistry:
    """One registry client; safe to share between threads (the cache is a dict, ids are immutable)."""

    def __init__(self, settings: SchemaRegistrySettings) -> None:
        self._settings = settings
        self._client: SchemaRegistryClient | None = None
        self._writers: dict[int, AvroSchema] = {}

    # ------------------------------------------------------------------------------------ plumbing

    def _conf(self) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "url": self._settings.url,
            "timeout": self._settings.timeout_seconds,
            # Our callers retry TransientError with their own backoff; keep the client's retries short.
            "max.retries": 1,
            "retries.wait.ms": 100,
            "retries.max.wait.ms": 1000,
        }
        if self._settings.basic_auth_user is not None:
            password = self._settings.basic_auth_password
            secret = password.get_secret_value() if password is not None else ""
            register_secret(secret)
            conf["basic.auth.user.info"] = f"{self._settings.basic_auth_user}:{secret}"
        return conf

    @property
    def client(self) -> SchemaRegistryClient:
        """The underlying client, created on first use (no network until a request)."""
        if self._client is None:
            try:
                self._client = SchemaRegistryClient(self._conf())
            except (ValueError, TypeError) as exc:
                raise ConfigError(
                    f"invalid schema registry configuration: {exc}",
                    variable="CONVSTREAM_SCHEMA_REGISTRY__URL",
                ) from exc
        return self._client

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        try:
            yield
        except httpx.TransportError as exc:
            raise RegistryUnavailableError(f"schema registry {action}: {type(exc).__name__}: {exc}") from exc
        except SchemaRegistryError as exc:
            raise self._translate(exc, action) from exc

    def _translate(self, exc: SchemaRegistryError, action: str) -> ConvstreamError:
        status = exc.http_status_code
        detail = f"schema registry {action}: HTTP {status}, error code {exc.error_code}: {exc.error_message}"
        if status >= 500 or status in _TRANSIENT_STATUS:
            return RegistryUnavailableError(detail)
        if status == 404 and exc.error_code not in _NOT_FOUND_CODES:
            return RegistryUnavailableError(f"{detail} (is CONVSTREAM_SCHEMA_REGISTRY__URL right?)")
        if status in (401, 403):
            return ConfigError(
                f"{detail} (check CONVSTREAM_SCHEMA_REGISTRY__BASIC_AUTH_USER and _PASSWORD)",
                variable="CONVSTREAM_SCHEMA_REGISTRY__BASIC_AUTH_USER",
            )
        if status in (409, 422):
            return SchemaCompatibilityError(detail)
        return ConvstreamError(detail)

    def ping(self) -> None:
        """Raise unless the registry answers a subject listing (readiness, ``convstream check``)."""
        with self._translated("ping"):
            self.client.get_subjects()

    def close(self) -> None:
        """Close the HTTP session; a later call reconnects."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # ------------------------------------------------------------------------------------ API

    def register(self, subject: str, schema_str: str) -> int:
        """Register ``schema_str`` under ``subject`` (idempotent: an existing identical schema keeps its id).

        Raises:
            SchemaCompatibilityError: the registry rejects it as incompatible or invalid.
            RegistryUnavailableError: the registry cannot be reached.
        """
        with self._translated(f"register under {subject}"):
            schema_id: int = self.client.register_schema(subject, Schema(schema_str, "AVRO"))
        return schema_id

    def register_backward_transitive(self, subject: str, schema_str: str) -> int:
        """Register ``schema_str`` under ``subject`` and keep the subject BACKWARD_TRANSITIVE.

        Every writer registers this way (``convstream schemas register``, the bridge), so a subject
        never stays at the registry's default level (often ``NONE``, which accepts any change):

        1. If the subject exists, set its compatibility first, so the registration itself is checked.
        2. Register (idempotent: an identical schema keeps its id).
        3. If the subject was new, set its compatibility now that it exists.

        Raises:
            SchemaCompatibilityError: the registry rejects the schema as incompatible or invalid.
            RegistryUnavailableError: the registry cannot be reached.
        """
        existed = bool(self.versions(subject))
        if existed:  # Step 1.
            self.set_compatibility(subject, BACKWARD_TRANSITIVE)
        schema_id = self.register(subject, schema_str)  # Step 2.
        if not existed:  # Step 3.
            self.set_compatibility(subject, BACKWARD_TRANSITIVE)
        return schema_id

    def lookup(self, subject: str, schema_str: str) -> int | None:
        """The id of ``schema_str`` under ``subject``, or None when it is not registered there."""
        try:
            with self._translated(f"look up under {subject}"):
                registered = self.client.lookup_schema(subject, Schema(schema_str, "AVRO"))
        except ConvstreamError as exc:
            cause = exc.__cause__
            if isinstance(cause, SchemaRegistryError) and _is_not_found(cause):
                return None
            raise
        if registered.schema_id is None:
            return None
        return int(registered.schema_id)

    def writer_schema(self, schema_id: int) -> AvroSchema:
        """The parsed writer schema for ``schema_id``, fetched once and cached for the process's life.

        Raises:
            UnknownSchemaError: the registry answered and has no schema with this id (poison).
            PayloadDecodeError: the id names a schema that is not Avro or does not parse (poison).
            RegistryUnavailableError: the registry cannot be reached (retry).
        """
        cached = self._writers.get(schema_id)
        if cached is not None:
            return cached
        try:
            with self._translated(f"get schema id {schema_id}"):
                schema = self.client.get_schema(schema_id)
        except ConvstreamError as exc:
            cause = exc.__cause__
            if (
                isinstance(cause, SchemaRegistryError)
                and cause.http_status_code == 404
                and _is_not_found(cause)
            ):
                raise UnknownSchemaError(
                    f"schema registry has no schema id {schema_id}", schema_id=schema_id
                ) from cause
            raise
        if (schema.schema_type or "AVRO") != "AVRO" or schema.schema_str is None:
            raise PayloadDecodeError(
                f"schema id {schema_id} is {schema.schema_type}, not AVRO", schema_id=schema_id
            )
        try:
            parsed = parse(schema.schema_str)
        except SchemaError as exc:
            raise PayloadDecodeError(f"schema id {schema_id}: {exc}", schema_id=schema_id) from exc
        self._writers[schema_id] = parsed
        return parsed

    def set_compatibility(self, subject: str, level: str = BACKWARD_TRANSITIVE) -> None:
        """Set the subject's compatibility level (e.g. ``BACKWARD_TRANSITIVE``).

        Two writers may set it at the same moment (two bridge replicas starting): Apicurio then answers
        the slower one 409, the rule having just been created. The level is read back; when it is
        already ``level`` that is success, otherwise the set is tried once more (now an update).
        """
        try:
            with self._translated(f"set compatibility of {subject}"):
                self.client.set_compatibility(subject_name=subject, level=level)
            return
        except SchemaCompatibilityError as exc:
            cause = exc.__cause__
            if not (isinstance(cause, SchemaRegistryError) and cause.http_status_code == 409):
                raise
        if self.compatibility(subject) == level:
            return
        with self._translated(f"set compatibility of {subject}"):
            self.client.set_compatibility(subject_name=subject, level=level)

    def compatibility(self, subject: str) -> str | None:
        """The subject's own compatibility level, or None when the subject has none set."""
        try:
            with self._translated(f"get compatibility of {subject}"):
                level: str = self.client.get_compatibility(subject)
        except ConvstreamError as exc:
            cause = exc.__cause__
            if isinstance(cause, SchemaRegistryError) and cause.http_status_code == 404:
                return None
            raise
        return level

    def versions(self, subject: str) -> list[int]:
        """The versions registered under ``subject`` (empty when the subject does not exist)."""
        try:
            with self._translated(f"list versions of {subject}"):
                versions: list[int] = self.client.get_versions(subject)
        except ConvstreamError as exc:
            cause = exc.__cause__
            if isinstance(cause, SchemaRegistryError) and _is_not_found(cause):
                return []
            raise
        return sorted(versions)

    def check_compatibility(self, subject: str, schema_str: str, version: int | str = "latest") -> bool:
        """Whether the registry finds ``schema_str`` compatible with ``version`` of ``subject``.

        Uses the subject's configured compatibility level. A subject without versions is compatible.
        """
        try:
            with self._translated(f"test compatibility with {subject} version {version}"):
                compatible: bool = self.client.test_compatibility(
                    subject, Schema(schema_str, "AVRO"), version
                )
        except ConvstreamError as exc:
            cause = exc.__cause__
            if isinstance(cause, SchemaRegistryError) and _is_not_found(cause):
                return True
            raise
        return bool(compatible)


class ValueSerializer(Generic[T]):
    """Frames values of one topic with the id of the current schema under its ``<topic>-value`` subject.

    1. :meth:`prepare` (once, at start) registers the current schema (or only looks it up when
       ``auto_register`` is false) and remembers the id.
    2. Calling the serializer encodes a value and frames it with that id; no registry call per value.
    """

    def __init__(
        self, registry: SchemaRegistry, subject: str, stem: str, encode: Callable[[T], bytes]
    ) -> None:
        self._registry = registry
        self.subject = subject
        self._stem = stem
        self._encode = encode
        self._schema_id: int | None = None

    @property
    def schema_id(self) -> int:
        """The schema id values are framed with; :meth:`prepare` must have run."""
        if self._schema_id is None:
            raise RuntimeError(f"serializer for {self.subject} used before prepare()")
        return self._schema_id

    def prepare(self, *, auto_register: bool = True) -> int:
        """Step 1: resolve the schema id of the current schema under the subject.

        Raises:
            SchemaCompatibilityError: not registered (``auto_register=False``) or rejected by the registry.
            RegistryUnavailableError: the registry cannot be reached.
        """
        text = schema_text(self._stem)
        if auto_register:
            schema_id = self._registry.register(self.subject, text)
        else:
            found = self._registry.lookup(self.subject, text)
            if found is None:
                raise SchemaCompatibilityError(
                    f"the current {self._stem} schema is not registered under {self.subject}; "
                    "run `convstream schemas register`"
                )
            schema_id = found
        self._schema_id = schema_id
        log.info("schema id resolved", extra={"subject": self.subject, "schema_id": schema_id})
        return schema_id

    def __call__(self, value: T) -> bytes:
        """Step 2: the Confluent-framed Avro bytes of ``value``."""
        return frame(self.schema_id, self._encode(value))


def event_serializer(registry: SchemaRegistry, topic: str) -> ValueSerializer[ConversationEvent]:
    """The serializer of ``ConversationEvent`` values for ``topic`` (call ``prepare()`` once)."""
    return ValueSerializer(registry, subject_for(topic), CONVERSATION_EVENT, encode_event)


class EventDeserializer:
    """Record value bytes -> :class:`ConversationEvent`, writer schemas fetched by id and cached."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self._registry = registry

    def __call__(self, value: bytes | None) -> ConversationEvent:
        """Decode one value.

        Raises:
            FramingError, UnknownSchemaError, PayloadDecodeError, InvalidEventError: poison, with ``raw`` set
                to the whole value and ``schema_id`` when known.
            RegistryUnavailableError: retry.
        """
        return decode_value(value, self._registry.writer_schema)
