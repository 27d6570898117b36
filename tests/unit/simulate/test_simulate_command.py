"""``convstream simulate``: files written, truth/queue directory formats, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consumer.cli import main


def test_writes_messages_truth_and_queue_directory(tmp_path: Path) -> None:
    out, truth, queues = tmp_path / "out.jsonl", tmp_path / "truth.jsonl", tmp_path / "queues.jsonl"
    argv = ["simulate", "--out", str(out), "--truth", str(truth), "--queues-out", str(queues),
            "--conversations", "50", "--queues", "3", "--seed", "3", "--detail-events",
            "--quiet"]  # fmt: skip
    assert main(argv) == 0
    first = out.read_bytes()
    assert main(argv) == 0
    assert out.read_bytes() == first  # deterministic
    rows = [json.loads(line) for line in truth.read_text().splitlines()]
    assert len(rows) == 50
    assert list(rows[0]) == [
        "conversation_id", "calculated_status", "status_changed_at", "last_queue_id", "last_queue_name",
        "conversation_start", "conversation_end", "originating_direction", "original_media_type",
        "conversation_initiator", "external_tag", "self_served", "customer_participation", "division_ids",
        "last_event_at", "logic_version",
    ]  # fmt: skip
    directory = [json.loads(line) for line in queues.read_text().splitlines()]
    assert len(directory) == 3
    assert all(set(q) == {"id", "name"} for q in directory)
    assert all(json.loads(line)["topicName"] for line in first.decode().splitlines())


def test_stdout_and_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--out", "-", "--events", "100", "--mix", "chat=1"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) >= 100
    assert "simulate: " in captured.err
    assert "messages" in captured.err


def test_bad_mix_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--out", str(tmp_path / "o"), "--mix", "fax=1"]) == 2
    assert "bad mix entry" in capsys.readouterr().err
