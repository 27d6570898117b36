"""Replay: move a consumer group's offsets back (or forward) so its events are reprocessed.

Guarantees of :func:`execute` (steps in code order):

1. Refuse (:class:`ReplayRefusedError`) while the Kafka group has active members, unless ``coordinate``:
   a running consumer would otherwise overwrite the new offsets with its next commit-free seek.
2. In **one Postgres transaction**, write the targets to ``consumer_offset`` (the source of truth;
   unconditional, not fenced) and bump ``replay_request.generation`` of the group.
3. Mirror the targets to the group's committed offsets in Kafka when the group is empty (lag tools,
   ``kafka-consumer-groups``). With running consumers the broker refuses that, and it is not needed:
   the consumers commit the new positions to Kafka with their next batches.

What the running consumers do with ``--coordinate`` (see :mod:`consumer.consume.replay_watch`): every couple
of seconds they read the generation; on a change they drop every fetched record and seek each owned
partition to its stored offset. Nothing is restarted and no rebalance happens.

Why the fence cannot be defeated. A consumer's batch of partition *p* carries ``start_offset`` = the
stored offset it last committed (or read at assignment/seek) and its records are exactly
``[start_offset, next_offset)``; the fenced update succeeds only if the stored value still equals
``start_offset``, in the same transaction as the rows.

- Replay lowers ``next_offset`` from *S* to *T* < *S* while a batch starting at *S* is in flight: the
  replay commits first (the batch's fenced update then sees *T* ≠ *S*: zero rows, the whole batch rolls
  back, the consumer seeks to *T*) or the batch commits first (the replay then overwrites its offset
  with *T*: the batch's records are simply reprocessed). Either way nothing is lost or half-applied.
- A batch that starts at the *new* value *T*: its records begin at *T*, so committing it is exactly
  the first step of the replay. A consumer only presents *T* if it sought to *T* (after the watch or a
  fence recovery read *T*), or if *T* equals its old position *S* (that partition's replay is a
  no-op), or if it never knew a stored offset and its first record is at *T*. In each case the batch
  covers ``[T, next)`` contiguously, which is what a consumer positioned at *T* must do.
- ABA (a second replay moves the offset back to *S* before the in-flight batch commits): the batch's
  records start at *S* = the stored value, so committing them is again correct.

With unchanged ``LOGIC_VERSION`` a replay rewrites no row (the fold is duplicate-insensitive and the
upsert skips unchanged rows); with a bumped version every replayed conversation is recomputed and
rewritten in place (the version is part of the "content changed" predicate; a newer row is never
downgraded by an older build).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from consumer.adapters.kafka.groups import GroupState, KafkaGroupAdmin
from consumer.adapters.postgres.offsets import OffsetStore
from consumer.errors import ConvstreamError

__all__ = [
    "PartitionPlan",
    "ReplayPlan",
    "ReplayRefusedError",
    "ReplayUsageError",
    "Target",
    "execute",
    "format_plan",
    "parse_datetime",
    "parse_offsets",
    "plan",
]

log = logging.getLogger(__name__)


class ReplayRefusedError(ConvstreamError):
    """The group has active members and ``--coordinate`` was not given."""


class ReplayUsageError(ConvstreamError):
    """Bad replay arguments (an offset, a date-time, a partition that does not exist): exit 2."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where to move: exactly one of earliest, a time (epoch ms), explicit offsets, or a shift."""

    earliest: bool = False
    at_ms: int | None = None
    offsets: Mapping[int, int] = field(default_factory=dict)
    shift: int | None = None

    def describe(self) -> str:
        """A short human description (also stored as the replay's detail)."""
        if self.earliest:
            return "earliest"
        if self.at_ms is not None:
            return "datetime " + datetime.fromtimestamp(self.at_ms / 1000, UTC).isoformat()
        if self.shift is not None:
            return f"shift by {self.shift}"
        return "offsets " + ", ".join(f"{p}:{o}" for p, o in sorted(self.offsets.items()))


@dataclass(frozen=True, slots=True)
class PartitionPlan:
    """One partition: stored offset (None: none stored), target, earliest and end offsets."""

    partition: int
    current: int | None
    target: int
    earliest: int
    end: int

    @property
    def to_reprocess(self) -> int:
        """Records from the target to the end (what the group will consume again, or anew)."""
        return max(0, self.end - self.target)


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """The targets of one replay of ``topic`` for ``group_id``."""

    group_id: str
    topic: str
    target: Target
    partitions: tuple[PartitionPlan, ...]

    @property
    def targets(self) -> dict[tuple[str, int], int]:
        """``(topic, partition) -> target offset``."""
        return {(self.topic, p.partition): p.target for p in self.partitions}


def parse_offsets(values: Sequence[str]) -> dict[int, int]:
    """``["0:100", "3:42"]`` -> ``{0: 100, 3: 42}``.

    Raises:
        ReplayUsageError: not ``PARTITION:OFFSET`` with non-negative integers, or a partition twice.
    """
    out: dict[int, int] = {}
    for value in values:
        part, sep, offset = value.partition(":")
        if not sep or not part.isdigit() or not offset.isdigit():
            raise ReplayUsageError(f"--to-offset expects PARTITION:OFFSET (integers >= 0), got {value!r}")
        if int(part) in out:
            raise ReplayUsageError(f"--to-offset names partition {part} twice")
        out[int(part)] = int(offset)
    return out


def parse_datetime(value: str) -> int:
    """ISO-8601 (``2025-01-01T08:00:00Z``, an offset, or naive = UTC) -> epoch milliseconds.

    Raises:
        ReplayUsageError: not an ISO-8601 date-time.
    """
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ReplayUsageError(f"--to-datetime expects ISO-8601 (2025-01-01T08:00:00Z): {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def plan(
    kafka: KafkaGroupAdmin,
    offsets: OffsetStore,
    group_id: str,
    topic: str,
    target: Target,
    partitions: Sequence[int] | None = None,
) -> ReplayPlan:
    """Compute the per-partition targets (dry run: nothing is changed).

    The current offset is the one stored in Postgres (else the group's Kafka offset, else None).
    Targets are clamped into ``[earliest, end]``.

    Raises:
        ReplayUsageError: a selected partition does not exist.
    """
    known = kafka.partitions(topic)
    chosen = sorted(target.offsets) if target.offsets else sorted(partitions or known)
    if partitions is not None and target.offsets:
        chosen = [p for p in chosen if p in set(partitions)]
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ReplayUsageError(f"topic {topic!r} has no partition {unknown} (it has 0..{max(known)})")
    earliest = kafka.list_offsets(topic, chosen, "earliest")
    ends = kafka.list_offsets(topic, chosen, "latest")
    current: dict[int, int] = kafka.committed(group_id, topic, chosen)
    current.update(offsets.stored(group_id, topic))
    wanted = _wanted(kafka, topic, target, chosen, earliest, current)
    rows = tuple(
        PartitionPlan(p, current.get(p), min(max(wanted[p], earliest[p]), ends[p]), earliest[p], ends[p])
        for p in chosen
    )
    return ReplayPlan(group_id, topic, target, rows)


def _wanted(
    kafka: KafkaGroupAdmin,
    topic: str,
    target: Target,
    chosen: Sequence[int],
    earliest: Mapping[int, int],
    current: Mapping[int, int],
) -> dict[int, int]:
    if target.earliest:
        return dict(earliest)
    if target.at_ms is not None:
        return kafka.list_offsets(topic, chosen, target.at_ms)
    if target.shift is not None:
        return {p: current.get(p, earliest[p]) + target.shift for p in chosen}
    return {p: target.offsets[p] for p in chosen}


def execute(
    kafka: KafkaGroupAdmin, offsets: OffsetStore, replay: ReplayPlan, *, coordinate: bool = False
) -> tuple[int, GroupState]:
    """Apply ``replay`` (see the module docstring); returns the new generation and the group's state.

    Raises:
        ReplayRefusedError: the group has active members and ``coordinate`` is False.
    """
    # Step 1.
    group = kafka.describe(replay.group_id)
    if group.active and not coordinate:
        raise ReplayRefusedError(
            f"consumer group {replay.group_id!r} has {len(group.members)} active member(s) "
            f"({', '.join(group.members[:5])}); stop the consumers (scale to 0) and run again, or pass "
            "--coordinate to make the running consumers seek to the new offsets"
        )
    # Step 2.
    detail = {"target": replay.target.describe(), "topic": replay.topic, "coordinated": group.active}
    generation = offsets.replay(replay.group_id, replay.targets, detail)
    log.info(
        "replay offsets written",
        extra={"group_id": replay.group_id, "generation": generation, "partitions": len(replay.partitions)},
    )
    # Step 3.
    if not group.active:
        try:
            kafka.alter(replay.group_id, replay.targets)
        except ConvstreamError as exc:  # a consumer joined meanwhile: it reads Postgres, mirrors itself
            log.warning("kafka offsets not mirrored", extra={"error": str(exc)})
    return generation, group


def format_plan(replay: ReplayPlan) -> str:
    """The dry-run table: partition, current (Postgres), target, end, events to reprocess."""
    head = ("partition", "current", "target", "end", "to_reprocess")
    body = [
        (str(p.partition), "-" if p.current is None else str(p.current), str(p.target), str(p.end),
         str(p.to_reprocess))
        for p in replay.partitions
    ]  # fmt: skip
    total = sum(p.to_reprocess for p in replay.partitions)
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = [f"replay of {replay.topic} for group {replay.group_id} to {replay.target.describe()}"]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *body]]
    lines.append(f"total events to reprocess: {total}")
    return "\n".join(lines)
