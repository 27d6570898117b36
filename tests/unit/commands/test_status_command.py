"""``convstream status ID``: how a stored row becomes JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from consumer.commands.status import jsonable


def test_times_are_iso_and_folded_digests_are_a_count() -> None:
    row = {
        "conversation_id": "c1",
        "status_changed_at": datetime(2025, 1, 1, 8, 0, 0, 123000, tzinfo=UTC),
        "folded_digests": memoryview(b"\x01" * 8 + b"\x02" * 8),
    }
    out = jsonable(row)
    assert out == {
        "conversation_id": "c1",
        "status_changed_at": "2025-01-01T08:00:00.123Z",
        "folded_records_known": 2,
    }
    json.dumps(out)  # plain JSON, no bytes
    assert jsonable({"folded_digests": None}) == {"folded_records_known": 0}
