"""`convstream schemas check` locally: breaking changes fail naming the field, compatible ones pass."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from consumer.commands import schemas as command
from consumer.ops.schemas import check_local, history_versions

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def schema_dir(tmp_path: Path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(REPO / "schemas", target)
    return target


def edit(schema_dir: Path, stem: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = schema_dir / f"{stem}.avsc"
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")


def detail_fields(doc: dict[str, Any]) -> list[dict[str, Any]]:
    body = next(f for f in doc["fields"] if f["name"] == "body")
    detail = next(b for b in body["type"] if b["name"] == "DetailEvent")
    fields: list[dict[str, Any]] = detail["fields"]
    return fields


def test_repository_schemas_are_compatible_with_history() -> None:
    report = check_local(REPO / "schemas")
    assert report.ok, report.problems
    assert history_versions(REPO / "schemas" / "history", "conversation_event")[0][0] == 1


def test_new_required_field_fails_naming_the_field(schema_dir: Path) -> None:
    edit(
        schema_dir,
        "conversation_event",
        lambda d: detail_fields(d).append({"name": "new_field", "type": "string"}),
    )
    report = check_local(schema_dir)
    assert not report.ok
    assert report.problems == [
        f"{schema_dir / 'conversation_event.avsc'} is not backward compatible with history v1: "
        "field ConversationEvent.body.DetailEvent.new_field has no default"
    ]


def test_new_optional_field_with_null_default_passes(schema_dir: Path) -> None:
    def add(doc: dict[str, Any]) -> None:
        detail_fields(doc).append(
            {"name": "new_field", "type": ["null", "string"], "default": None, "doc": "d"}
        )

    edit(schema_dir, "conversation_event", add)
    report = check_local(schema_dir)
    assert report.ok, report.problems


def test_type_change_fails_naming_the_field(schema_dir: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        next(f for f in doc["fields"] if f["name"] == "queue_id")["type"] = "long"

    edit(schema_dir, "queue", change)
    report = check_local(schema_dir)
    assert len(report.problems) == 1
    assert "field Queue.queue_id changed type from string to long" in report.problems[0]


def test_promotion_is_compatible_and_removed_field_only_warns(schema_dir: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        fields = detail_fields(doc)
        next(f for f in fields if f["name"] == "wrapup_duration_ms")["type"] = ["null", "double"]
        fields.remove(next(f for f in fields if f["name"] == "kind"))

    edit(schema_dir, "conversation_event", change)
    report = check_local(schema_dir)
    assert report.ok, report.problems
    assert any("DetailEvent.kind was removed" in w for w in report.warnings)


def test_every_history_version_is_checked(schema_dir: Path) -> None:
    v2 = schema_dir / "history" / "queue" / "v2.avsc"
    doc = json.loads((schema_dir / "queue.avsc").read_text(encoding="utf-8"))
    doc["fields"].append({"name": "region", "type": "string", "doc": "released as required in v2"})
    v2.write_text(json.dumps(doc), encoding="utf-8")
    edit(
        schema_dir,
        "queue",
        lambda d: d["fields"].append({"name": "region", "type": ["null", "string"], "default": None}),
    )
    report = check_local(schema_dir)
    # v1 -> current passes (new optional field); v2 -> current changes string to [null, string]: also fine.
    assert report.ok, report.problems

    edit(schema_dir, "queue", lambda d: d["fields"].pop())  # drop region again: v2 data still reads (ignored)
    edit(schema_dir, "queue", lambda d: d["fields"].append({"name": "tier", "type": "int"}))
    report = check_local(schema_dir)
    assert [p.split(": ")[0].rsplit(" ", 1)[-1] for p in report.problems] == ["v1", "v2"]


def test_command_check_exit_codes(schema_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = __import__("argparse").ArgumentParser()
    command.add_arguments(parser)
    assert command.run(parser.parse_args(["check", "--schemas-dir", str(schema_dir)])) == 0
    assert "schemas: compatible" in capsys.readouterr().out

    edit(
        schema_dir,
        "conversation_event",
        lambda d: detail_fields(d).append({"name": "new_field", "type": "string"}),
    )
    assert command.run(parser.parse_args(["check", "--schemas-dir", str(schema_dir)])) == 1
    out = capsys.readouterr().out
    assert "field ConversationEvent.body.DetailEvent.new_field has no default" in out
