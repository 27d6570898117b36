"""Golden scenarios: hand-written Genesys message streams with expected status after every line.

Each scenario is ``tests/data/<name>.jsonl`` (the stream, lines optionally with a top-level
``receivedAt``), ``tests/data/<name>.expected.json`` (``steps``: status and last queue after every
event line, as ``convstream fold --trace`` prints them; ``final``: the rows ``convstream fold``
prints) and optionally ``tests/data/<name>.queues.jsonl`` (the queue directory, ``--queues``).

The expectations were derived by hand from the fold's rules (decision table, last-queue rule, derived
columns), not by running the fold.

``tests/data/sdk/`` holds streams built with the official Genesys SDK's model classes
(``scripts/sdk_corpus.py``); their ``expected.json`` may list ``rejected`` lines, which the fold must
report (``file:line: …reason…``, exit 2) while folding every other line.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.cli import main
from consumer.domain import LOGIC_VERSION, ConversationEvent, ConversationState, fold
from consumer.genesys.jsonl import FileClock, LineEvents, read_lines

DATA = Path(__file__).resolve().parents[2] / "data"
SCENARIOS = sorted(
    str(p.relative_to(DATA)).removesuffix(".expected.json")
    for pattern in ("*.expected.json", "sdk/*.expected.json")
    for p in DATA.glob(pattern)
)

#: The statuses, in decision-table order.
ALL_STATUSES = (
    "connected", "on_hold", "parked", "alerting", "dialing", "scheduled_callback", "waiting_in_queue",
    "in_ivr", "wrap_up", "active", "ended",
)  # fmt: skip


def _expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"{name}.expected.json").read_text(encoding="utf-8"))
    return data


def _fold(
    capsys: pytest.CaptureFixture[str], name: str, *, trace: bool
) -> tuple[int, list[dict[str, Any]], str]:
    argv = ["fold"]
    if trace:
        argv.append("--trace")
    queues = DATA / f"{name}.queues.jsonl"
    if queues.exists():
        argv += ["--queues", str(queues)]
    argv.append(str(DATA / f"{name}.jsonl"))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def _check_reports(name: str, code: int, err: str) -> None:
    """Exit 0 and nothing on stderr, or exactly the expected rejected lines (exit 2)."""
    rejected = _expected(name).get("rejected", [])
    if not rejected:
        assert (code, err) == (0, "")
        return
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == len(rejected), err
    for want, got in zip(rejected, lines, strict=True):
        assert got.startswith(f"{DATA / name}.jsonl:{want['line']}: "), got
        assert want["reason_contains"] in got, got
    assert "Traceback" not in err


def test_golden_set_is_present() -> None:
    assert len(SCENARIOS) >= 20
    assert sum(name.startswith("sdk/") for name in SCENARIOS) >= 15
    for name in SCENARIOS:
        assert (DATA / f"{name}.jsonl").exists(), name


@pytest.mark.parametrize("name", SCENARIOS)
def test_status_and_last_queue_after_every_line(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, printed, err = _fold(capsys, name, trace=True)
    _check_reports(name, code, err)
    expected = _expected(name)["steps"]
    for want, got in zip(expected, printed, strict=False):
        assert got == want, f"{name} line {want['line']}"
    assert len(printed) == len(expected)


@pytest.mark.parametrize("name", SCENARIOS)
def test_final_rows(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, printed, err = _fold(capsys, name, trace=False)
    _check_reports(name, code, err)
    expected = _expected(name)["final"]
    for row in expected:
        row["logic_version"] = LOGIC_VERSION
    assert [list(row) for row in printed] == [list(row) for row in expected]  # key order too
    assert printed == expected


def test_golden_set_reaches_every_status() -> None:
    seen = {step["calculated_status"] for name in SCENARIOS for step in _expected(name)["steps"]}
    finals = {row["calculated_status"] for name in SCENARIOS for row in _expected(name)["final"]}
    assert seen == set(ALL_STATUSES)
    assert finals == set(ALL_STATUSES), "every status is also some scenario's final status"


def test_all_files_in_one_run_number_lines_across_files(capsys: pytest.CaptureFixture[str]) -> None:
    first, second = "status_alerting", "status_connected"
    code = main(["fold", "--trace", str(DATA / f"{first}.jsonl"), str(DATA / f"{second}.jsonl")])
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    offset = len((DATA / f"{first}.jsonl").read_text(encoding="utf-8").splitlines())
    want = _expected(first)["steps"] + [{**s, "line": s["line"] + offset} for s in _expected(second)["steps"]]
    assert printed == want


def _events(name: str) -> list[ConversationEvent]:
    path = DATA / f"{name}.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    outcomes = read_lines(lines, source_name=str(path), clock=FileClock())
    return [e for o in outcomes if isinstance(o, LineEvents) for e in o.events]


def _states(events: list[ConversationEvent]) -> dict[str, ConversationState]:
    states: dict[str, ConversationState] = {}
    for event in events:
        states[event.conversation_id] = fold(states.get(event.conversation_id), event)
    return {cid: replace(state, status_changed_at=None) for cid, state in states.items()}


@pytest.mark.parametrize("name", SCENARIOS)
@settings(max_examples=10, deadline=None)
@given(shuffle=st.randoms(use_true_random=False), duplicates=st.lists(st.integers(0, 10_000), max_size=5))
def test_any_order_with_duplicates_folds_to_the_same_states(
    name: str, shuffle: random.Random, duplicates: list[int]
) -> None:
    # The fold's guarantee (any permutation, any duplicates, same state) on every golden stream, the SDK
    # ones included; status_changed_at is the one field that records processing order.
    events = _events(name)
    assert events, name
    noisy = events + [events[i % len(events)] for i in duplicates]
    shuffle.shuffle(noisy)
    assert _states(noisy) == _states(events)
