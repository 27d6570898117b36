"""Dead-letter routing (README "How it works"): poison records -> ``genesys.conversation.events.dlq``.

A dead letter keeps the original key and value bytes untouched and says why and where from in headers:

====================================  ================================================================
``convstream.error.class``            the error class, e.g. ``FramingError``
``convstream.error.reason``           metric reason: framing, unknown_schema, payload, invalid_event, fold,
                                      store (Postgres rejected its values), unindexable_key
``convstream.error.message``          the error message (at most 1 KiB)
``convstream.original.topic``         the topic it was consumed from
``convstream.original.partition``     its partition (decimal)
``convstream.original.offset``        its offset (decimal)
``convstream.original.timestamp``     its Kafka timestamp, epoch ms (decimal; -1 when it had none)
``convstream.schema.id``              the schema id of its Confluent frame (decimal; absent when unframed)
====================================  ================================================================

Guarantee: :meth:`DeadLetterQueue.send` returns only after every dead letter is acknowledged by the
broker (``acks=all``), so the pipeline can then commit the offsets that pass them.

``convstream dlq replay`` (:func:`replay`) re-publishes dead letters, original key and value, to their
original topic once the cause is fixed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from consumer.errors import MAX_MESSAGE_BYTES, BrokerUnavailableError, PoisonRecordError, cap_message
from consumer.ports import Publisher, Record

__all__ = [
    "HEADER_CLASS",
    "HEADER_MESSAGE",
    "HEADER_OFFSET",
    "HEADER_PARTITION",
    "HEADER_REASON",
    "HEADER_SCHEMA_ID",
    "HEADER_TIMESTAMP",
    "HEADER_TOPIC",
    "DeadLetterQueue",
    "Poison",
    "dead_letter_headers",
]

log = logging.getLogger(__name__)

HEADER_CLASS: Final = "convstream.error.class"
HEADER_REASON: Final = "convstream.error.reason"
HEADER_MESSAGE: Final = "convstream.error.message"
HEADER_TOPIC: Final = "convstream.original.topic"
HEADER_PARTITION: Final = "convstream.original.partition"
HEADER_OFFSET: Final = "convstream.original.offset"
HEADER_TIMESTAMP: Final = "convstream.original.timestamp"
HEADER_SCHEMA_ID: Final = "convstream.schema.id"


@dataclass(frozen=True, slots=True)
class Poison:
    """A record set aside for the dead-letter topic.

    Attributes:
        record: the record as consumed.
        error: why (a :class:`PoisonRecordError` subclass; a fold failure is an ``InvalidEventError``).
        reason: the bounded metric label (the error's ``reason``, or ``fold``).
        conversation_id: the conversation it concerns when known (the record key of an events record).
    """

    record: Record
    error: PoisonRecordError
    reason: str
    conversation_id: str | None

    @property
    def description(self) -> str:
        """``Class: message`` as stored in the conversation's ``error_message``."""
        r = self.record
        where = f" (at {r.topic}[{r.partition}]@{r.offset})"
        text = f"{type(self.error).__name__}: {self.error}"
        return cap_message(text, MAX_MESSAGE_BYTES - len(where.encode())) + where


def dead_letter_headers(poison: Poison) -> list[tuple[str, bytes]]:
    """The headers of a dead letter (see the module docstring)."""
    r = poison.record
    message = cap_message(str(poison.error)).encode("utf-8", "replace")
    headers = [
        (HEADER_CLASS, type(poison.error).__name__.encode()),
        (HEADER_REASON, poison.reason.encode()),
        (HEADER_MESSAGE, message),
        (HEADER_TOPIC, r.topic.encode()),
        (HEADER_PARTITION, str(r.partition).encode()),
        (HEADER_OFFSET, str(r.offset).encode()),
        (HEADER_TIMESTAMP, str(r.timestamp).encode()),
    ]
    if poison.error.schema_id is not None:
        headers.append((HEADER_SCHEMA_ID, str(poison.error.schema_id).encode()))
    return headers


class DeadLetterQueue:
    """Sends poison records to the dead-letter topic and waits for their acknowledgement.

    Args:
        publisher: an idempotent ``acks=all`` producer.
        topic: the dead-letter topic.
        ack_timeout_seconds: how long :meth:`send` waits for acknowledgements.
    """

    def __init__(self, publisher: Publisher, topic: str, *, ack_timeout_seconds: float = 30.0) -> None:
        self._publisher = publisher
        self.topic = topic
        self._timeout = ack_timeout_seconds

    def send(self, poisons: Sequence[Poison]) -> None:
        """Produce every dead letter and return once all are acknowledged.

        Raises:
            BrokerUnavailableError: not all were acknowledged in time, or the cluster is unreachable
                (retry the batch: the offsets must not pass them).
            PublishError: a delivery failed for another reason.
        """
        if not poisons:
            return
        for poison in poisons:
            r = poison.record
            self._publisher.produce(
                self.topic, r.key if r.key is not None else b"", r.value or b"", dead_letter_headers(poison)
            )
        pending = self._publisher.flush(self._timeout)
        if pending:
            raise BrokerUnavailableError(
                f"{pending} dead letters to {self.topic} not acknowledged within {self._timeout:g} s"
            )
        log.warning(
            "records dead-lettered",
            extra={
                "count": len(poisons),
                "topic": self.topic,
                "reasons": sorted({p.reason for p in poisons}),
            },
        )
