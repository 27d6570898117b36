"""The routing queue directory: ``GET /api/v2/routing/queues`` (paged) -> ``Queue`` records (docs/genesys.md).

:meth:`QueueDirectory.sync` reads every queue and returns only what changed since the previous sync
(new queues, renamed or moved queues, and queues that disappeared, marked ``deleted``), so the
compacted ``genesys.routing.queues`` topic receives one record per change, not the whole directory
every time. The first sync returns every queue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from consumer.codec.avro import QueueRecord
from consumer.genesys.cloud.client import GenesysClient
from consumer.genesys.text import repair_text

__all__ = ["QUEUES_PATH", "QueueDirectory"]

log = logging.getLogger(__name__)

QUEUES_PATH = "/api/v2/routing/queues"


class QueueDirectory:
    """Queue id -> (name, division id), synced from Genesys."""

    def __init__(self, client: GenesysClient, *, wall_ms: Callable[[], int] | None = None) -> None:
        self._client = client
        self._wall_ms = wall_ms or (lambda: int(time.time() * 1000))
        self._known: dict[str, tuple[str | None, str | None]] = {}
        self.synced = False

    def __contains__(self, queue_id: object) -> bool:
        return queue_id in self._known

    @property
    def ids(self) -> list[str]:
        """Every known queue id, sorted."""
        return sorted(self._known)

    def names(self) -> dict[str, str]:
        """Queue id -> name (queues without a name left out)."""
        return {k: name for k, (name, _) in self._known.items() if name is not None}

    def sync(self) -> list[QueueRecord]:
        """Read every queue; return the records that changed (first sync: all of them)."""
        current: dict[str, tuple[str | None, str | None]] = {}
        for entity in self._client.entities(QUEUES_PATH):
            queue_id = entity.get("id")
            if isinstance(queue_id, str) and queue_id:
                current[queue_id] = (_text(entity.get("name")), _division(entity))
        now = self._wall_ms()
        changed: list[QueueRecord] = [
            {"queue_id": k, "name": v[0], "division_id": v[1], "updated_at": now, "deleted": False}
            for k, v in sorted(current.items())
            if self._known.get(k) != v
        ]
        changed += [
            {"queue_id": k, "name": v[0], "division_id": v[1], "updated_at": now, "deleted": True}
            for k, v in sorted(self._known.items())
            if k not in current
        ]
        self._known = current
        self.synced = True
        log.info("queue directory synced", extra={"queues": len(current), "changed": len(changed)})
        return changed


def _text(value: Any) -> str | None:
    # A lone surrogate (legal JSON) could be neither Avro-encoded nor stored: repaired to U+FFFD.
    return repair_text(value) if isinstance(value, str) else None


def _division(entity: dict[str, Any]) -> str | None:
    division = entity.get("division")
    return _text(division.get("id")) if isinstance(division, dict) else None
