"""Step 5 of a consumer batch when PostgreSQL rejects part of it: isolate, dead-letter, write the rest.

A bad record never stalls its partition and never takes good records of the same batch with
it. A value PostgreSQL refuses (a NUL character in a jsonb or text value, an out-of-range number) only
shows up when the batch is written, as a non-transient :class:`~consumer.errors.StoreError`.

Contract of :func:`write_isolating` (each step in code order):

1. Write the batch (rows, error marks, queue entries and fenced offsets: one transaction).
2. If that raised :class:`StoreError`, ask the store which conversations and queues are rejected on their
   own (:meth:`~consumer.consume.pipeline_support.Store.unwritable`: a rolled-back transaction, split in
   halves). Nothing found (the failure is not about the data: bad SQL, permissions) re-raises the error.
3. Dead-letter this batch's records of the rejected conversations and queues (reason ``store``) and wait
   for the acknowledgement, before any offset passes them.
4. Drop the rejected parts from the batch, add an error mark for each rejected conversation (dropped too
   if the mark itself is rejected) and go back to 1. Each round removes at least one part, so it ends;
   the offsets still advance exactly once, in the transaction that writes the remaining rows.

Transient errors and :class:`~consumer.errors.FencedError` leave unchanged (the caller retries or drops
the whole batch; letters already acknowledged are not sent twice by the caller's dedup).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

from consumer.consume.batching import DecodedBatch
from consumer.consume.dlq import Poison
from consumer.errors import StoreError, UnwritableRecordError
from consumer.ports import BatchWrite, ErrorMark, Record, Store, Unwritable, WriteResult

__all__ = ["write_isolating"]

log = logging.getLogger(__name__)


def write_isolating(
    store: Store,
    batch: BatchWrite,
    decoded: DecodedBatch,
    send: Callable[[Sequence[Poison]], None],
    now_ms: Callable[[], int],
) -> tuple[WriteResult, list[Poison]]:
    """Write ``batch``, isolating what PostgreSQL rejects; returns the result and the records rejected.

    Args:
        store: the store.
        batch: the batch as folded (rows, marks, queues, offsets).
        decoded: the decoded batch (which records belong to which conversation or queue).
        send: dead-letters records and returns once they are acknowledged.
        now_ms: the wall clock (epoch ms) for error marks.
    """
    rejected: list[Poison] = []
    given_up: set[str] = set()
    while True:
        try:
            # Step 1.
            return store.write_batch(batch), rejected
        except StoreError as exc:
            # Step 2.
            bad = store.unwritable(batch)
            if not bad:
                raise
            log.warning(
                "postgres rejected part of a batch; dead-lettering it",
                extra={"error": str(exc), "conversations": len(bad.conversations), "queues": len(bad.queues)},
            )
        # Step 3.
        letters = _letters(bad, decoded, given_up)
        send(letters)
        rejected.extend(letters)
        # Step 4.
        batch = _without(batch, bad, given_up, now_ms())
        given_up.update(bad.conversations)


def _letters(bad: Unwritable, decoded: DecodedBatch, given_up: set[str]) -> list[Poison]:
    """This batch's records of the rejected conversations (not already sent) and queues."""
    out: list[Poison] = []
    for cid, message in sorted(bad.conversations.items()):
        if cid in given_up:
            continue  # only its error mark was rejected this time: its records are dead-lettered
        for record, _ in decoded.events.get(cid, []):
            out.append(_poison(record, message, cid))
    for qid, message in sorted(bad.queues.items()):
        out.extend(_poison(record, message, None) for record in decoded.queue_records.get(qid, []))
    return out


def _poison(record: Record, message: str, cid: str | None) -> Poison:
    error = UnwritableRecordError(f"rejected by PostgreSQL: {message}", raw=record.value)
    return Poison(record, error, error.reason, cid)


def _without(batch: BatchWrite, bad: Unwritable, given_up: set[str], at: int) -> BatchWrite:
    """The batch without the rejected parts, with an error mark for each newly rejected conversation."""
    gone = bad.conversations
    marks = [m for m in batch.errors if m.conversation_id not in gone]
    marks += [
        ErrorMark(cid, f"UnwritableRecordError: rejected by PostgreSQL: {message}", at)
        for cid, message in sorted(gone.items())
        if cid not in given_up
    ]
    return dataclasses.replace(
        batch,
        rows=[r for r in batch.rows if r.row.conversation_id not in gone],
        errors=marks,
        queues=[q for q in batch.queues if q.queue_id not in bad.queues],
    )
