"""Records already folded: recognise exact re-deliveries (a replay, a duplicate publish) before decoding.

Each conversation row keeps ``folded_digests``: the digests (8-byte BLAKE2b) of the exact record values
folded into its state by a fold of the row's ``logic_version``, concatenated, at most
:data:`MAX_DIGESTS` of them. A record is *already folded* when its conversation's row, written by this
build's :data:`~consumer.domain.LOGIC_VERSION`, lists the digest of its value. Such a record is dropped
before it is decoded, and its conversation's state is not even loaded.

Why this is sound:

- The fold is duplicate-insensitive (README): folding an event into a state that already holds it
  returns that state. Equal record values decode to equal events (the value carries its schema id).
- The set only lists records whose fold succeeded and whose resulting state was committed with the set
  (same row, same statement): a record that went to the dead-letter topic is not in it.
- A bumped ``logic_version`` must re-fold every event under the new logic (an in-place replay): rows of
  another version are never trusted, and the first write of a row by the new version starts a new set
  holding only what the new version folded.
- The key is only used to find the row to look in: a digest is stored in the row of the conversation
  its record's body names, so a record whose key is not its conversation id is simply never recognised.
- Why not ``event_id``: the same Genesys message received twice has the same ``event_id`` but not the
  same ``received_at`` (nor, for snapshots, ``event_time``), and the fold reads both.

The set is an optimisation, never a source of truth: a record missing from it (an older row, a full
set, a conversation left unchanged by its batch) is decoded and folded as usual.

Pure: no I/O (the store loads and writes the blobs).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from consumer.ports import Record

__all__ = [
    "DIGEST_SIZE",
    "MAX_DIGESTS",
    "KnownSplit",
    "conversation_keys",
    "digest",
    "key_text",
    "merged",
    "parse",
    "split_known",
]

#: Bytes per digest: within one conversation's few hundred records a 64-bit collision is ~1e-15 likely.
DIGEST_SIZE: Final = 8
#: Digests kept per row (2 KiB). Later records of a longer conversation are folded again on a replay.
MAX_DIGESTS: Final = 256


def digest(value: bytes) -> bytes:
    """The digest of one record value."""
    return hashlib.blake2b(value, digest_size=DIGEST_SIZE).digest()


def parse(blob: bytes | None) -> frozenset[bytes]:
    """The digests in a stored ``folded_digests`` value (a malformed tail is ignored)."""
    if not blob:
        return frozenset()
    size = DIGEST_SIZE
    return frozenset(blob[i : i + size] for i in range(0, len(blob) - size + 1, size))


def merged(prior: bytes | None, new: Iterable[bytes]) -> bytes | None:
    """``prior`` plus the ``new`` digests it lacks, kept to :data:`MAX_DIGESTS`; None when empty.

    The prior ones are kept first (so a full set stays as it was), in their stored order.
    """
    kept = prior[: len(prior) - len(prior) % DIGEST_SIZE] if prior else b""  # whole digests only
    out = bytearray(kept)
    seen = set(parse(kept))
    count = len(kept) // DIGEST_SIZE
    for d in new:
        if count >= MAX_DIGESTS:
            break
        if d not in seen:
            seen.add(d)
            out += d
            count += 1
    return bytes(out) or None


@dataclass(slots=True)
class KnownSplit:
    """A batch split by :func:`split_known`.

    Attributes:
        fresh: the records to decode and fold, in their order.
        already_folded: how many records were recognised (not decoded, not folded).
        digests: the digest of each fresh events-topic record with a value, by (partition, offset).
    """

    fresh: list[Record] = field(default_factory=list)
    already_folded: int = 0
    digests: dict[tuple[int, int], bytes] = field(default_factory=dict)


def key_text(key: bytes | None) -> str | None:
    """A record key as a conversation id: None when absent, empty or not UTF-8."""
    if not key:
        return None
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return None


def conversation_keys(records: Sequence[Record], events_topic: str) -> list[str]:
    """The distinct conversation ids the events-topic records are keyed by (UTF-8 keys only)."""
    keys: dict[str, None] = {}
    for record in records:
        if record.topic == events_topic:
            cid = key_text(record.key)
            if cid is not None:
                keys[cid] = None
    return list(keys)


def split_known(records: Sequence[Record], stored: Mapping[str, bytes], events_topic: str) -> KnownSplit:
    """Drop the events-topic records whose value is already folded into their key's stored row.

    ``stored`` maps conversation ids to their row's ``folded_digests``, for rows of the fold's logic
    version only (the store filters).
    """
    out = KnownSplit()
    sets: dict[str, frozenset[bytes]] = {}
    for record in records:
        value = record.value
        if record.topic != events_topic or value is None:
            out.fresh.append(record)
            continue
        d = digest(value)
        cid = key_text(record.key)
        if cid is not None:
            known = sets.get(cid)
            if known is None:
                known = sets[cid] = parse(stored.get(cid))
            if d in known:
                out.already_folded += 1
                continue
        out.digests[(record.partition, record.offset)] = d
        out.fresh.append(record)
    return out
