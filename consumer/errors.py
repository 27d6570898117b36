"""The one exception tree of convstream.

Third-party errors (confluent-kafka, psycopg, fastavro, httpx, pydantic) are translated into these
classes at the adapter boundary (``raise OurError(...) from exc``); callers classify by type, never by
message text.

::

    ConvstreamError
    ├── ConfigError                  invalid settings; names the environment variable to fix
    │   └── GenesysAuthError         Genesys refused the OAuth client (bad credentials, missing permission)
    ├── NormalizeError               a Genesys message we cannot turn into a domain event
    │   ├── UnknownTopicError        a topic we do not handle (counted and skipped, never guessed)
    │   └── UnencodableEventError    an event the Avro schema cannot carry (reported, skipped)
    ├── PoisonRecordError            one Kafka record that can never be processed -> dead-letter topic
    │   ├── FramingError             not Confluent-framed (magic byte, 5-byte header)
    │   ├── UnknownSchemaError       the registry answered, and has no such schema id
    │   ├── PayloadDecodeError       framed, schema known, Avro body does not decode
    │   ├── InvalidEventError        decodes, but semantically invalid (e.g. no conversation id)
    │   ├── UnwritableRecordError    folds, but PostgreSQL rejects its values (found by splitting)
    │   └── UnindexableKeyError      its conversation id cannot be a primary key (too long, NUL)
    ├── TransientError               retry with backoff; never dead-lettered, never skipped
    │   ├── BrokerUnavailableError
    │   ├── RegistryUnavailableError
    │   ├── StoreUnavailableError    Postgres unreachable, serialization failure, deadlock, read-only
    │   ├── ConcurrentFoldError      another consumer wrote a conversation of the batch since it was loaded
    │   └── GenesysUnavailableError  Genesys Cloud unreachable, 5xx, or still rate limiting (429)
    ├── StoreError                   a Postgres error that retrying will not fix
    ├── FencedError                  another consumer owns the partition now (offset fence failed)
    ├── PublishError                 a produce was not acknowledged
    ├── SchemaCompatibilityError     a schema change breaks BACKWARD_TRANSITIVE compatibility
    ├── WedgedError                  no progress while work is pending; the process must restart
    └── GenesysApiError              Genesys answered a request with an error retrying will not fix (4xx)
        └── ChannelGoneError         the notification channel no longer exists (404): create a new one
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_MEANINGS",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "EXIT_WEDGED",
    "BrokerUnavailableError",
    "ChannelGoneError",
    "ConcurrentFoldError",
    "ConfigError",
    "ConvstreamError",
    "FencedError",
    "FramingError",
    "GenesysApiError",
    "GenesysAuthError",
    "GenesysUnavailableError",
    "InvalidEventError",
    "NormalizeError",
    "PayloadDecodeError",
    "PoisonRecordError",
    "PublishError",
    "RegistryUnavailableError",
    "SchemaCompatibilityError",
    "StoreError",
    "StoreUnavailableError",
    "TransientError",
    "UnencodableEventError",
    "UnindexableKeyError",
    "UnknownSchemaError",
    "UnknownTopicError",
    "UnwritableRecordError",
    "WedgedError",
    "cap_message",
    "exit_code_for",
]

#: The longest error message stored or sent anywhere (a conversation's ``error_message``, the DLQ's
#: ``convstream.error.message`` header), in UTF-8 bytes: a decoder error can quote a whole schema.
MAX_MESSAGE_BYTES = 1024


def cap_message(message: str, limit: int = MAX_MESSAGE_BYTES) -> str:
    """``message`` cut to at most ``limit`` UTF-8 bytes (on a character boundary), marked when cut."""
    raw = message.encode("utf-8", "replace")
    if len(raw) <= limit:
        return message
    marker = " …(truncated)"
    head = raw[: limit - len(marker.encode())].decode("utf-8", "ignore")
    return head + marker


class ConvstreamError(Exception):
    """Root of every error convstream raises on purpose."""


class ConfigError(ConvstreamError):
    """Settings are invalid; the message names the variable to fix."""

    def __init__(self, message: str, *, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


class NormalizeError(ConvstreamError):
    """A Genesys message that cannot be turned into a domain event."""


class UnknownTopicError(NormalizeError):
    """A Genesys topic convstream does not handle; reported and skipped, never guessed."""

    def __init__(self, topic_name: str) -> None:
        super().__init__(f"unknown topic {topic_name!r}")
        self.topic_name = topic_name


class UnencodableEventError(NormalizeError):
    """An event the ``ConversationEvent`` Avro schema cannot carry (a value out of a ``long``'s range, text
    that is not valid UTF-8). Normalization rejects such input first; this is the encoder's last guard, so
    the bridge reports the event and goes on instead of stopping."""


class PoisonRecordError(ConvstreamError):
    """One record that can never be processed; it goes to the dead-letter topic.

    ``raw`` is the record's value bytes (as received) so the dead-letter path can keep them intact.
    """

    reason = "poison"

    def __init__(self, message: str, *, raw: bytes | None = None, schema_id: int | None = None) -> None:
        super().__init__(message)
        self.raw = raw
        self.schema_id = schema_id


class FramingError(PoisonRecordError):
    """The value is not in the Confluent wire format (magic byte 0 + 4-byte schema id)."""

    reason = "framing"


class UnknownSchemaError(PoisonRecordError):
    """The registry was reached and has no schema with this id."""

    reason = "unknown_schema"


class PayloadDecodeError(PoisonRecordError):
    """Framed with a known schema id, but the Avro body does not decode with that schema."""

    reason = "payload"


class InvalidEventError(PoisonRecordError):
    """Decodes, but is semantically invalid (no conversation id, impossible values, fold failure)."""

    reason = "invalid_event"


class UnwritableRecordError(PoisonRecordError):
    """Decodes and folds, but PostgreSQL rejects what it produces (a data or constraint error, e.g. a NUL
    character in a string); found by splitting the batch (README "How it works")."""

    reason = "store"


class UnindexableKeyError(PoisonRecordError):
    """Decodes, but its conversation id cannot be a primary key: longer than the documented maximum
    (:data:`consumer.keys.MAX_CONVERSATION_ID_BYTES` UTF-8 bytes) or containing a NUL character."""

    reason = "unindexable_key"


class TransientError(ConvstreamError):
    """A dependency is unavailable or busy; retry with backoff, never dead-letter, never skip."""


class BrokerUnavailableError(TransientError):
    """Kafka cannot be reached or refuses the operation for now."""


class RegistryUnavailableError(TransientError):
    """The schema registry cannot be reached or answered with a server error."""


class StoreUnavailableError(TransientError):
    """Postgres is unreachable, read-only, out of connections, or the transaction must be retried."""

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class ConcurrentFoldError(TransientError):
    """A conversation of the batch changed in Postgres after its state was loaded (another consumer
    folded records of it from another partition): the batch is rolled back and retried from the fresh
    state, so neither fold is lost."""

    def __init__(self, message: str, *, conversations: int = 0) -> None:
        super().__init__(message)
        self.conversations = conversations


class StoreError(ConvstreamError):
    """A Postgres error that retrying will not fix (bad SQL, constraint, permission)."""

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class FencedError(ConvstreamError):
    """The stored offset moved under us: another consumer owns the partition; drop the batch."""


class PublishError(ConvstreamError):
    """A Kafka produce was not acknowledged."""


class SchemaCompatibilityError(ConvstreamError):
    """A schema change is not BACKWARD_TRANSITIVE compatible with released history."""


class WedgedError(ConvstreamError):
    """No poll or commit progress while lag > 0 for longer than the watchdog timeout."""


class GenesysAuthError(ConfigError):
    """Genesys refused the OAuth client credentials or a request for lack of permission (401/403)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, variable="CONVSTREAM_GENESYS__CLIENT_ID")
        self.status = status


class GenesysUnavailableError(TransientError):
    """Genesys Cloud is unreachable, answered 5xx, or kept answering 429 beyond the retry budget."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GenesysApiError(ConvstreamError):
    """Genesys answered with a client error (4xx other than 401/403/429) that retrying will not fix."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class ChannelGoneError(GenesysApiError):
    """The notification channel does not exist any more (404): create a new one and subscribe again."""


# The exit codes of every command, in one place: ``cli`` returns them and ``--help`` lists their meanings.
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
EXIT_CONFIG: Final = 3
EXIT_UNAVAILABLE: Final = 4
EXIT_WEDGED: Final = 5
EXIT_INTERRUPTED: Final = 130

#: What each exit code means for every command (a command may say it more precisely).
EXIT_MEANINGS: Final[Mapping[int, str]] = {
    0: "success",
    EXIT_FAILURE: "failure: an error convstream could not handle (the message says what and where)",
    EXIT_USAGE: "usage error: a bad option or argument (commands that read input: bad lines were reported)",
    EXIT_CONFIG: "invalid configuration (the message names the CONVSTREAM_* variable to fix)",
    EXIT_UNAVAILABLE: "a service it needs (Kafka, schema registry, PostgreSQL, Genesys) could not be reached",
    EXIT_WEDGED: "the consumer made no progress while work was pending and stopped itself",
    EXIT_INTERRUPTED: "interrupted before a graceful stop was possible",
}


def exit_code_for(exc: ConvstreamError) -> int:
    """The exit code of an error that ends a command, by its type."""
    if isinstance(exc, ConfigError):
        return EXIT_CONFIG
    if isinstance(exc, WedgedError):
        return EXIT_WEDGED
    if isinstance(exc, TransientError):
        return EXIT_UNAVAILABLE
    return EXIT_FAILURE
