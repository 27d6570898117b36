"""The bridge refuses conversation ids that cannot be keys, reporting the line, and goes on."""

from __future__ import annotations

import random
import string
from pathlib import Path
from typing import Any

from consumer.bridge.sources import file_items
from consumer.domain.keys import MAX_CONVERSATION_ID_BYTES
from tests.unit.bridge.test_bridge import RecordingPublisher, detail_line, make_bridge, snapshot_line


def _random_id(n: int) -> str:
    rng = random.Random(n)
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def test_unindexable_ids_are_bad_lines_with_their_position_and_the_rest_is_published(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    lines = [
        detail_line("c1"),
        detail_line(_random_id(3000)),
        snapshot_line(_random_id(9000)),
        detail_line("x" * MAX_CONVERSATION_ID_BYTES),  # at the limit: fine
        detail_line("c2"),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    publisher = RecordingPublisher()
    reports: list[Any] = []
    summary = make_bridge(publisher, reports).run(file_items([str(path)]))
    assert summary.events_published == 3
    assert summary.bad_lines == 2
    assert summary.exit_code == 2
    assert [r.split(": ")[0] for r in reports[:2]] == [f"{path}:2", f"{path}:3"]
    assert "3000 UTF-8 bytes long" in reports[0]
    assert "9000 UTF-8 bytes long" in reports[1]
    assert len(reports[1]) < 300  # the id is shown shortened
    assert [r[1] for r in publisher.records] == ["c1", "x" * MAX_CONVERSATION_ID_BYTES, "c2"]
