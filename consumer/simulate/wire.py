"""Small, fast helpers that shape simulator output like Genesys: ISO times, ids, envelopes.

Everything here is deterministic given its inputs (ids come from the caller's ``random.Random``).
"""

from __future__ import annotations

import random
import time
from typing import Any, Final

__all__ = [
    "EVENTBRIDGE_SOURCE",
    "eventbridge",
    "iso_ms",
    "iso_s",
    "notification",
    "uuid_from",
]

#: EventBridge partner source of the simulated org (bridges match the ``aws.partner/genesys.com`` prefix).
EVENTBRIDGE_SOURCE: Final = (
    "aws.partner/genesys.com/cloud/00000000-0000-4000-8000-00000000c0de/convstream-sim"
)

_second_prefix: dict[int, str] = {}


def _prefix(second: int) -> str:
    prefix = _second_prefix.get(second)
    if prefix is None:
        if len(_second_prefix) > 200_000:  # bound memory on very long simulations
            _second_prefix.clear()
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second_prefix[second] = prefix
    return prefix


def iso_ms(ms: int) -> str:
    """Epoch ms -> ``2025-01-01T08:00:00.000Z`` (UTC, milliseconds), cached per second for speed."""
    prefix = _second_prefix.get(ms // 1000) or _prefix(ms // 1000)
    return f"{prefix}.{ms % 1000:03d}Z"


def iso_s(ms: int) -> str:
    """Epoch ms -> ``2025-01-01T08:00:00Z`` (whole seconds, as EventBridge's outer ``time``)."""
    return f"{_prefix(ms // 1000)}Z"


def uuid_from(rng: random.Random) -> str:
    """A random-looking version-4 UUID string drawn from ``rng`` (deterministic for a seeded rng)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def notification(topic: str, body: dict[str, Any], correlation_id: str, received_at: int) -> dict[str, Any]:
    """A Notifications envelope line with the simulator's top-level ``receivedAt`` (ISO)."""
    return {
        "topicName": topic,
        "version": "2",
        "eventBody": body,
        "metadata": {"CorrelationId": correlation_id},
        "receivedAt": iso_ms(received_at),
    }


def eventbridge(
    topic: str, pattern: str, body: dict[str, Any], correlation_id: str, received_at: int, event_id: str
) -> dict[str, Any]:
    """An EventBridge event (genesys-events §4); ``detail.timestamp`` carries the receive time."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": pattern,
        "source": EVENTBRIDGE_SOURCE,
        "account": "123456789012",
        "time": iso_s(received_at),
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "topicName": topic,
            "version": "2",
            "eventBody": body,
            "metadata": {"CorrelationId": correlation_id},
            "timestamp": iso_ms(received_at),
        },
    }
