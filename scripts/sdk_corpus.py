"""Golden Genesys streams built with the official Genesys Cloud Python SDK's own model classes.

Why: the hand-written streams in ``tests/data`` use the field names of the reference; these are built
with the SDK (``PureCloudPlatformClientV2``) model classes and serialized with its
``ApiClient().sanitize_for_serialization`` (the wire form Genesys sends), so a field the SDK spells
differently, or a shape convstream mishandles, shows in ``make test``. The SDK is NOT a project
dependency: run this script in a throwaway virtual environment::

    python3 -m venv /tmp/sdk && /tmp/sdk/bin/pip install PureCloudPlatformClientV2==269.0.0
    /tmp/sdk/bin/python scripts/sdk_corpus.py            # writes tests/data/sdk/

It writes, under ``tests/data/sdk/`` (format: ``tests/data/README.md``):

- ``<scenario>.jsonl`` and ``<scenario>.expected.json`` for every scenario of the ``sdk_corpus_*``
  modules (Notifications envelopes, EventBridge events and analytics records). The
  expectations are written by hand in those modules from Genesys' meaning and the documented status rules,
  never by running the fold. ``rejected`` (optional) lists lines the fold must report (line number and a
  piece of the reason) while folding the rest.
- ``attribute_maps.json``: the wire field names (``attribute_map``) of every SDK model reachable from the
  body classes convstream reads, for ``tests/unit/genesys/test_sdk_fields.py``.

The SDK maps enum values it does not know to ``outdated_sdk_version``; the script refuses to write a
stream containing that value (a scenario typo).
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import PureCloudPlatformClientV2 as G

SDK_VERSION = "269.0.0"
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "sdk"
_API = G.ApiClient()
_NS = uuid.UUID("5d1c0b7e-7f3a-4c55-9a0e-2f1e7c6b9a10")
DAY0 = datetime(2025, 3, 3, tzinfo=UTC)
ORG = "0f4e7a1c-2b3d-4c5e-8f90-a1b2c3d4e5f6"

MEDIA_TOPICS = {  # topic suffix -> SDK class stem (queue variant: QueueConversation<stem>…)
    "calls": "Call",
    "callbacks": "Callback",
    "chats": "Chat",
    "emails": "Email",
    "messages": "Message",
    "cobrowsesessions": "Cobrowse",
    "screenshares": "ScreenShare",
    "socialexpressions": "SocialExpression",
    "videos": "Video",
}
DETAIL_MODELS = {
    "customer.start": "CustomerStartDetailEventTopicCustomerStartEvent",
    "customer.end": "CustomerEndDetailEventTopicCustomerEndEvent",
    "flow.start": "FlowStartDetailEventTopicFlowStartEvent",
    "flow.end": "FlowEndDetailEventTopicFlowEndEvent",
    "flow.outcome": "FlowOutcomeDetailEventTopicFlowOutcomeEvent",
    "acd.start": "AcdStartDetailEventTopicAcdStartEvent",
    "acd.end": "AcdEndDetailEventTopicAcdEndEvent",
    "user.start": "UserStartDetailEventTopicUserStartEvent",
    "user.end": "UserEndDetailEventTopicUserEndEvent",
    "acw": "AcwDetailEventTopicAfterCallWorkEvent",
    "wrapup": "WrapupDetailEventTopicWrapupEvent",
    "attributes": "AttributeDetailEventTopicAttributeUpdateEvent",
    "outbound": "OutboundDetailEventTopicOutboundInitEvent",
    "voicemail.start": "VoicemailStartDetailEventTopicVoicemailStartEvent",
    "voicemail.end": "VoicemailEndDetailEventTopicVoicemailEndEvent",
}


def uid(name: str) -> str:
    """A stable id for a scenario name (uuid5)."""
    return str(uuid.uuid5(_NS, name))


def at(clock: str, day: int = 0) -> datetime:
    """``"10:00:00.100"`` on day ``day`` of the corpus (UTC)."""
    hours, minutes, seconds = clock.split(":")
    return DAY0 + timedelta(days=day, hours=int(hours), minutes=int(minutes), seconds=float(seconds))


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z`` (the fold's output form)."""
    return f"{moment.year:04d}-" + moment.strftime("%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def ms(moment: datetime) -> int:
    """Epoch milliseconds (detail events' ``eventTime``)."""
    return int(moment.timestamp() * 1000)


def model(class_name: str, **fields: Any) -> Any:
    """An SDK model with ``fields`` set through its property setters (which validate enums)."""
    instance = getattr(G, class_name)()
    for name, value in fields.items():
        if name not in instance.swagger_types:
            raise AttributeError(f"{class_name} has no field {name!r}")
        setattr(instance, name, value)
    return instance


def wire(instance: Any) -> Any:
    """The SDK's own wire serialization (camelCase keys, ISO datetimes)."""
    return _API.sanitize_for_serialization(instance)


def notification(
    topic: str, body: Any, received: datetime | None, correlation: object = None
) -> dict[str, Any]:
    """A Notifications (WebSocket) envelope, with the bridge's optional top-level ``receivedAt``."""
    line: dict[str, Any] = {"topicName": topic, "version": "2", "eventBody": wire(body)}
    line["metadata"] = {
        "CorrelationId": correlation if correlation is not None else uid(f"corr {topic} {received}")
    }
    if received is not None:
        line["receivedAt"] = iso(received)
    return line


def eventbridge(topic: str, body: Any, delivered: datetime) -> dict[str, Any]:
    """An EventBridge event of a Genesys partner source; ``detail.timestamp`` is the receive time."""
    pattern = topic.split(".")
    pattern[4] = "{id}"
    return {
        "version": "0",
        "id": uid(f"eb {topic} {delivered}"),
        "detail-type": ".".join(pattern),
        "source": f"aws.partner/genesys.com/cloud/{ORG}/convstream",
        "account": "123456789012",
        "time": delivered.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "topicName": topic,
            "version": "2",
            "eventBody": wire(body),
            "metadata": {"CorrelationId": uid(f"corr {topic} {delivered}")},
            "timestamp": iso(delivered),
        },
    }


def detail(
    kind: str, conversation: str, when: datetime, delivered: datetime, **fields: Any
) -> dict[str, Any]:
    """A detail event (SDK model of ``kind``) in an EventBridge envelope."""
    body = model(DETAIL_MODELS[kind], event_time=ms(when), conversation_id=conversation, **fields)
    return eventbridge(f"v2.detail.events.conversation.{conversation}.{kind}", body, delivered)


def analytics(record: Any, received: datetime) -> dict[str, Any]:
    """An analytics conversation detail record (``AnalyticsConversationWithoutAttributes``) line."""
    line: dict[str, Any] = wire(record)
    line["receivedAt"] = iso(received)
    return line


def row(conversation: str, status: str, changed: datetime, **columns: Any) -> dict[str, Any]:
    """One expected final row; every column must be given (times as datetimes or None)."""
    keys = (
        "last_queue_id",
        "last_queue_name",
        "conversation_start",
        "conversation_end",
        "originating_direction",
        "original_media_type",
        "conversation_initiator",
        "external_tag",
        "self_served",
        "customer_participation",
        "division_ids",
        "last_event_at",
    )
    missing = set(keys) - set(columns)
    if missing or set(columns) - set(keys):
        raise ValueError(f"row {conversation}: columns {sorted(missing)} missing or unknown")
    out: dict[str, Any] = {
        "conversation_id": conversation,
        "calculated_status": status,
        "status_changed_at": iso(changed),
    }
    for key in keys:
        value = columns[key]
        out[key] = iso(value) if isinstance(value, datetime) else value
    out["logic_version"] = 1  # checked against consumer.domain.LOGIC_VERSION by the test
    return out


class Scenario:
    """Lines with the expected status and last queue after each, the final rows, rejected lines."""

    def __init__(self, name: str, about: str) -> None:
        self.name = name
        self.about = about
        self.lines: list[str] = []
        self.steps: list[dict[str, Any]] = []
        self.final: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []

    def add(
        self, message: Mapping[str, Any], conversation: str, status: str | None, queue: str | None
    ) -> None:
        """A line that folds: ``status``/``queue`` are what ``fold --trace`` prints after it."""
        self.lines.append(json.dumps(message, ensure_ascii=False, separators=(",", ":")))
        step = {"conversation_id": conversation, "calculated_status": status, "last_queue_id": queue}
        self.steps.append({"line": len(self.lines), **step})

    def add_raw(self, text: str, conversation: str, status: str | None, queue: str | None) -> None:
        """A line given as JSON text (for escapes ``json.dumps`` cannot write, e.g. a lone surrogate)."""
        self.lines.append(text)
        step = {"conversation_id": conversation, "calculated_status": status, "last_queue_id": queue}
        self.steps.append({"line": len(self.lines), **step})

    def reject(self, message: Mapping[str, Any] | str, reason: str) -> None:
        """A line the fold must report (``file:line: …reason…``) and skip."""
        text = message if isinstance(message, str) else json.dumps(message, separators=(",", ":"))
        self.lines.append(text)
        self.rejected.append({"line": len(self.lines), "reason_contains": reason})

    def write(self, out: Path) -> None:
        text = "\n".join(self.lines) + "\n"
        if "outdated_sdk_version" in text:
            raise ValueError(f"{self.name}: an enum value the SDK does not know (outdated_sdk_version)")
        (out / f"{self.name}.jsonl").write_text(text, encoding="utf-8")
        expected: dict[str, Any] = {
            "about": self.about,
            "steps": self.steps,
            "final": sorted(self.final, key=lambda r: r["conversation_id"]),
        }
        if self.rejected:
            expected["rejected"] = self.rejected
        (out / f"{self.name}.expected.json").write_text(
            json.dumps(expected, indent=2) + "\n", encoding="utf-8"
        )


def root_models() -> dict[str, str]:
    """Topic pattern (or analytics) -> the SDK class of its body."""
    roots = {
        "v2.routing.queues.{id}.conversations": "QueueConversationEventTopicConversation",
        "v2.users.{id}.conversations": "ConversationEventTopicConversation",
        "analytics.conversation.details": "AnalyticsConversationWithoutAttributes",
    }
    for suffix, stem in MEDIA_TOPICS.items():
        for family, prefix in (("routing.queues", "QueueConversation"), ("users", "Conversation")):
            candidates = [
                n for n in dir(G) if n.startswith(f"{prefix}{stem}EventTopic") and n.endswith("Conversation")
            ]
            candidates = [n for n in candidates if "Participant" not in n and "Division" not in n]
            if len(candidates) != 1:
                raise LookupError(f"{prefix}{stem}: {candidates}")
            roots[f"v2.{family}.{{id}}.conversations.{suffix}"] = candidates[0]
    for kind, name in DETAIL_MODELS.items():
        roots[f"v2.detail.events.conversation.{{id}}.{kind}"] = name
    return roots


def attribute_maps(roots: Iterable[str]) -> dict[str, dict[str, str]]:
    """``attribute_map`` of every model reachable from ``roots`` through ``swagger_types``."""
    maps: dict[str, dict[str, str]] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in maps or not hasattr(G, name):
            continue
        instance = getattr(G, name)()
        maps[name] = dict(sorted(instance.attribute_map.items()))
        for kind in instance.swagger_types.values():
            inner = kind.removeprefix("list[").removesuffix("]")
            inner = inner.removeprefix("dict(str, ").removesuffix(")")
            if inner and inner[0].isupper():
                todo.append(inner)
    return dict(sorted(maps.items()))


def _one_model_per_line(dump: dict[str, Any]) -> str:
    """JSON with one model per line (reviewable diffs when the SDK changes)."""
    head = {key: value for key, value in dump.items() if key != "models"}
    lines = [json.dumps(head, indent=1)[:-2] + ',\n "models": {']
    models = [f" {json.dumps(name)}: {json.dumps(fields)}" for name, fields in dump["models"].items()]
    return "\n".join(lines) + "\n" + ",\n".join(models) + "\n }\n}\n"


def main() -> int:
    installed = metadata.version("PureCloudPlatformClientV2")
    if installed != SDK_VERSION:
        print(
            f"PureCloudPlatformClientV2 {installed} installed; the corpus is pinned to {SDK_VERSION}",
            file=sys.stderr,
        )
        return 3
    # Imported here: the scenario modules import this module's helpers.
    from sdk_corpus_defects import SCENARIOS as DEFECTS_1_3
    from sdk_corpus_defects_more import SCENARIOS as DEFECTS_4_5
    from sdk_corpus_digital import SCENARIOS as DIGITAL
    from sdk_corpus_input import SCENARIOS as INPUT
    from sdk_corpus_routing import SCENARIOS as ROUTING
    from sdk_corpus_voice import SCENARIOS as VOICE

    OUT.mkdir(parents=True, exist_ok=True)
    for build in [*VOICE, *ROUTING, *DIGITAL, *DEFECTS_1_3, *DEFECTS_4_5, *INPUT]:
        scenario = build()
        scenario.write(OUT)
        print(f"{scenario.name}: {len(scenario.lines)} lines")
    roots = root_models()
    dump = {
        "sdk": f"PureCloudPlatformClientV2 {SDK_VERSION}",
        "roots": roots,
        "models": attribute_maps(roots.values()),
    }
    (OUT / "attribute_maps.json").write_text(_one_model_per_line(dump), encoding="utf-8")
    print(f"attribute_maps.json: {len(dump['models'])} models")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
