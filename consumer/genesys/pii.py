"""PII handling before publishing (docs/security.md): participant ``address``, detail ``ani``/``dnis``.

Each field is kept, dropped (set to None, i.e. unknown) or replaced by a keyed hash:
``"hmac-sha256:" + hex(HMAC-SHA256(key, value))``, so equal values stay equal (joins and counts still
work) while the value cannot be recovered or recomputed without the key.

Pure transform on domain events (no I/O); ``event_id`` is left as computed from the original body — it
is a SHA-256 over the whole message, not a lookup key for the number.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from typing import Literal

from consumer.domain.events import ConversationEvent, ConversationSnapshot, Participant

__all__ = ["HASH_PREFIX", "PiiPolicy", "apply_pii"]

Mode = Literal["keep", "drop", "hash"]
HASH_PREFIX = "hmac-sha256:"


@dataclass(frozen=True, slots=True)
class PiiPolicy:
    """What to do with each PII field; ``key`` is required when any field is ``hash``."""

    address: Mode = "keep"
    ani: Mode = "keep"
    dnis: Mode = "keep"
    key: bytes = b""

    def __post_init__(self) -> None:
        if "hash" in (self.address, self.ani, self.dnis) and not self.key:
            raise ValueError("a PII hash needs a key")

    @property
    def active(self) -> bool:
        """Whether the policy changes anything."""
        return (self.address, self.ani, self.dnis) != ("keep", "keep", "keep")

    def value(self, mode: Mode, value: str | None) -> str | None:
        """One field under ``mode``."""
        if value is None or mode == "keep":
            return value
        if mode == "drop":
            return None
        digest = hmac.new(self.key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return HASH_PREFIX + digest


def _participant(p: Participant, policy: PiiPolicy) -> Participant:
    if p.address is None:
        return p
    return replace(p, address=policy.value(policy.address, p.address))


def apply_pii(event: ConversationEvent, policy: PiiPolicy) -> ConversationEvent:
    """``event`` with its PII fields transformed by ``policy`` (the same object when nothing changes)."""
    if not policy.active:
        return event
    body = event.body
    if isinstance(body, ConversationSnapshot):
        participants = tuple(_participant(p, policy) for p in body.participants)
        return replace(event, body=replace(body, participants=participants))
    new = replace(body, ani=policy.value(policy.ani, body.ani), dnis=policy.value(policy.dnis, body.dnis))
    return replace(event, body=new)
