"""``convstream fold``: offline fold over JSONL files — output format, bad input, exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from consumer.cli import main
from consumer.commands.fold import ROW_KEYS

DATA = Path(__file__).resolve().parents[2] / "data"
GOOD = DATA / "status_connected.jsonl"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], list[str]]:
    code = main(["fold", *argv])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err.splitlines()


def test_rows_have_the_spec_keys_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    code, rows, err = run(capsys, str(GOOD))
    assert (code, err) == (0, [])
    assert [list(r) for r in rows] == [list(ROW_KEYS)]
    assert rows[0]["status_changed_at"] == "2025-01-01T10:01:00.050Z"
    assert rows[0]["last_queue_name"] is None  # no --queues: generic topics carry no queue name


def test_rows_sorted_by_conversation_id(capsys: pytest.CaptureFixture[str]) -> None:
    code, rows, _ = run(capsys, str(DATA / "status_on_hold.jsonl"), str(GOOD))
    ids = [r["conversation_id"] for r in rows]
    assert code == 0
    assert ids == sorted(ids)
    assert len(ids) == 3


def test_bad_lines_are_reported_and_skipped_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = GOOD.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        "\n".join([good[0], '{"topicName": "v2.rout', good[1], "not json", good[2]]) + "\n", encoding="utf-8"
    )
    code, steps, err = run(capsys, "--trace", str(path))
    assert code == 2
    assert [s["line"] for s in steps] == [1, 3, 5]
    assert steps[-1]["calculated_status"] == "connected"
    assert len(err) == 2
    assert err[0].startswith(f"{path}:2: not valid JSON")
    assert err[1].startswith(f"{path}:4: not valid JSON")


def test_unknown_topics_are_reported_but_not_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "unknown.jsonl"
    path.write_text(
        json.dumps({"topicName": "v2.users.U1.conversationsummary", "eventBody": {}})
        + "\n"
        + GOOD.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    code, rows, err = run(capsys, str(path))
    assert code == 0
    assert err == [f"{path}:1: unknown topic 'v2.users.U1.conversationsummary'"]
    assert len(rows) == 1


def test_stdin_and_line_numbers_across_files(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(GOOD.read_text(encoding="utf-8")))
    code, steps, _ = run(capsys, "--trace", str(GOOD), "-")
    assert code == 0
    assert [s["line"] for s in steps] == [1, 2, 3, 4, 5, 6]


def test_missing_file_is_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    code, rows, err = run(capsys, str(missing), str(GOOD))
    assert code == 2
    assert len(rows) == 1
    assert err[0].startswith(f"{missing}: cannot read")


def test_queue_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    queues = tmp_path / "queues.jsonl"
    queue_id = json.loads((DATA / "status_connected.queues.jsonl").read_text().splitlines()[0])["id"]
    queues.write_text(
        json.dumps({"id": queue_id, "name": "Billing & Co"}) + "\n" + '{"id": 1}\n', encoding="utf-8"
    )
    code, rows, err = run(capsys, "--queues", str(queues), str(GOOD))
    assert rows[0]["last_queue_name"] == "Billing & Co"
    assert code == 2
    assert err[0].startswith(f"{queues}:2: bad queue entry")


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["fold", "--help"])
    assert info.value.code == 0
    assert "--trace" in capsys.readouterr().out
