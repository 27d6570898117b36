"""Every Genesys field name normalization reads exists in the official SDK's wire format.

``tests/data/sdk/attribute_maps.json`` is the SDK models' ``attribute_map`` (python name -> wire name),
dumped by ``scripts/sdk_corpus.py`` from every body class convstream reads. The names normalization reads
are taken from its source (string arguments of the field accessors and ``.get`` calls, and the keys of
the fast path's slot tables), so a typo or a field Genesys renamed fails here instead of silently reading
null. Envelope names (Notifications, EventBridge, a details-query page) are not SDK models; they are
listed below with where they come from.
"""

from __future__ import annotations

import ast
import json
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
GENESYS = ROOT / "consumer" / "genesys"
DUMP = ROOT / "tests" / "data" / "sdk" / "attribute_maps.json"

#: Field accessors of ``consumer.genesys._fields.Fields`` and plain ``dict.get``.
ACCESSORS = frozenset(
    {
        "text",
        "req_text",
        "lower",
        "flag",
        "integer",
        "number",
        "time",
        "obj",
        "objs",
        "texts",
        "text_map",
        "has",
        "get",
    }
)
#: Names of the envelopes around the bodies (reference §1.3 Notifications, §4 EventBridge, §5 a details
#: query page) and of convstream's own file format (``receivedAt``); none is an SDK model field.
ENVELOPE = frozenset(
    {"topicName", "version", "eventBody", "metadata", "CorrelationId", "detail-type", "detail", "source",
     "timestamp", "conversations", "result", "message", "receivedAt"}
)  # fmt: skip


@cache
def dump() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(DUMP.read_text(encoding="utf-8"))["models"]
    return data


@cache
def roots() -> dict[str, str]:
    data: dict[str, str] = json.loads(DUMP.read_text(encoding="utf-8"))["roots"]
    return data


def wire_names(root_filter: str) -> frozenset[str]:
    """Wire names of every model reachable from the roots whose topic pattern contains ``root_filter``."""
    models = dump()
    todo = [name for pattern, name in roots().items() if root_filter in pattern]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in models:
            continue
        seen.add(name)
        # Nested models are named after the field's class; follow every model sharing the root's prefix.
        stem = name.split("EventTopic")[0] if "EventTopic" in name else "Analytics"
        todo += [other for other in models if other.startswith(stem) and other not in seen]
    return frozenset(wire for name in seen for wire in models[name].values())


def names_read(module: str) -> set[str]:
    """String field names the module reads (accessor/``get`` arguments and ``*_SLOTS`` dict keys)."""
    tree = ast.parse((GENESYS / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) in ACCESSORS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
        if isinstance(node, ast.AnnAssign | ast.Assign) and isinstance(node.value, ast.Dict):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id.endswith("_SLOTS") for t in targets):
                found |= {
                    k.value
                    for k in node.value.keys
                    if isinstance(k, ast.Constant) and isinstance(k.value, str)
                }
    return found


CONVERSATION = "conversations"
DETAIL = "v2.detail.events"
ANALYTICS = "analytics"


@pytest.mark.parametrize(
    ("module", "families"),
    [
        ("snapshots", (CONVERSATION,)),
        ("details", (DETAIL,)),
        ("records", (ANALYTICS,)),
        ("_fast", (CONVERSATION, DETAIL)),
        ("normalize", (CONVERSATION, DETAIL, ANALYTICS)),
    ],
)
def test_every_field_normalization_reads_is_an_sdk_wire_name(module: str, families: tuple[str, ...]) -> None:
    allowed = frozenset().union(*(wire_names(f) for f in families)) | ENVELOPE
    read = names_read(module)
    assert read, f"no field names found in {module}: the extraction is broken"
    unknown = sorted(read - allowed)
    assert unknown == [], f"{module} reads fields the SDK does not have: {unknown}"


def test_the_dump_covers_every_shape_the_bridge_accepts() -> None:
    from consumer.genesys.details import DETAIL_KINDS
    from consumer.genesys.enums import MEDIA_TOPIC_SUFFIXES

    patterns = set(roots())
    for kind in DETAIL_KINDS:
        assert f"v2.detail.events.conversation.{{id}}.{kind}" in patterns, kind
    for family in ("routing.queues", "users"):
        assert f"v2.{family}.{{id}}.conversations" in patterns
        for suffix in {s.lower() for s in MEDIA_TOPIC_SUFFIXES}:
            assert f"v2.{family}.{{id}}.conversations.{suffix}" in patterns, suffix
    assert "analytics.conversation.details" in patterns
    assert all(name in dump() for name in roots().values())


def test_no_wire_name_is_snake_case() -> None:
    # Normalization rejects snake_case keys as the SDK's to_json() form: no real wire name may look so.
    from consumer.genesys._fields import snake_case_keys

    wires = {wire: None for fields in dump().values() for wire in fields.values()}
    assert snake_case_keys(wires) == []


def test_a_misspelt_field_would_fail() -> None:
    assert "connectedTime" in wire_names(CONVERSATION)
    assert "conectedTime" not in wire_names(CONVERSATION)
    assert "eventTime" in wire_names(DETAIL)
    assert "wrapUpCode" in wire_names(ANALYTICS)
