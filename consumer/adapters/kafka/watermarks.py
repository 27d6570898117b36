"""Log start and end offsets of many partitions in two broker requests, as our types and errors.

``Consumer.get_watermark_offsets`` asks one partition per request, and a request waits behind the
consumer's own fetch long-poll on the same broker connection (up to ``fetch.wait.max.ms``, 500 ms by
default): a dozen partitions took seconds, inside a rebalance callback. ``offsets_for_times`` sends one
``ListOffsets`` request for any number of partitions and passes the protocol's sentinel timestamps on:
-2 (``OFFSET_BEGINNING``) answers the log start offset, -1 (``OFFSET_END``) the log end -- the last stable
offset for a ``read_committed`` consumer, which is never below an offset that consumer committed.
"""

from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException, TopicPartition

from consumer.adapters.kafka.client import consumer_error
from consumer.errors import BrokerUnavailableError

__all__ = ["query_watermarks"]

TP = tuple[str, int]


def query_watermarks(
    consumer: Consumer, partitions: Sequence[TP], timeout_seconds: float
) -> dict[TP, tuple[int, int]]:
    """``(log start, log end)`` of every partition, asked from the leaders now; all or nothing.

    Raises:
        BrokerUnavailableError: no answer within ``timeout_seconds``, or a leader cannot serve it now.
        ConvstreamError: any other refusal (e.g. a partition the client does not know).
    """
    marks: dict[TP, list[int]] = {tp: [] for tp in partitions}
    for sentinel in (OFFSET_BEGINNING, OFFSET_END):
        query = [TopicPartition(t, p, sentinel) for t, p in marks]
        if not query:
            break
        try:
            answers = consumer.offsets_for_times(query, timeout=timeout_seconds)
        except KafkaException as exc:
            raise consumer_error(exc, "list offsets") from exc
        for answer in answers:
            tp = (answer.topic, answer.partition)
            if answer.error is not None:
                raise consumer_error(KafkaException(answer.error), f"list offsets of {tp[0]}[{tp[1]}]")
            if tp in marks and answer.offset >= 0:
                marks[tp].append(answer.offset)
    unanswered = sorted(f"{t}[{p}]" for (t, p), m in marks.items() if len(m) != 2)
    if unanswered:
        raise BrokerUnavailableError(f"kafka consumer: no log offsets for {unanswered}")
    return {tp: (m[0], m[1]) for tp, m in marks.items()}
