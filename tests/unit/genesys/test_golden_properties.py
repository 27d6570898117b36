"""The fold's order and duplicate guarantees (SPEC §4.2) over every golden stream's own events.

The golden scenarios (``tests/data``, see ``test_golden.py``) are realistic Genesys shapes, including the
ones the randomized strategies of ``tests/unit/domain`` do not build (media-specific topics, analytics
records, EventBridge). Each stream is normalized once, in file order (so every event keeps the receive
time the file gives it); then any permutation of its events, with any of them duplicated, must fold to
the same states and rows as the file order, except ``status_changed_at`` (which records when processing
saw a change).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.domain import ConversationEvent, ConversationState, derive_row, fold_all
from consumer.genesys.jsonl import LineEvents, read_lines

DATA = Path(__file__).resolve().parents[2] / "data"
STREAMS = sorted(
    str(p.relative_to(DATA)).removesuffix(".expected.json") for p in DATA.rglob("*.expected.json")
)


def _events(name: str) -> list[ConversationEvent]:
    lines = (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [e for o in read_lines(lines, source_name=name) if isinstance(o, LineEvents) for e in o.events]


def _comparable(states: dict[str, ConversationState]) -> dict[str, object]:
    return {
        cid: (replace(s, status_changed_at=None), replace(derive_row(s), status_changed_at=None))
        for cid, s in states.items()
    }


def test_every_golden_stream_has_events() -> None:
    assert len(STREAMS) >= 26
    for name in STREAMS:
        assert _events(name), name


@pytest.mark.parametrize("name", STREAMS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_any_permutation_with_duplicates_folds_like_the_file(data: st.DataObject, name: str) -> None:
    events = _events(name)
    expected = _comparable(fold_all(events))
    shuffled = list(data.draw(st.permutations(events)))
    for dup in data.draw(st.lists(st.sampled_from(events), max_size=4)):
        shuffled.insert(data.draw(st.integers(0, len(shuffled))), dup)
    assert _comparable(fold_all(shuffled)) == expected
