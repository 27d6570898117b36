"""The Genesys-fidelity issue's input defects 6-8 as SDK-built golden streams (see :mod:`sdk_corpus`).

Input handling: a value is repaired, or its line is rejected with a reason and the rest folds.
Conventions: :mod:`sdk_corpus_builders`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sdk_corpus import Scenario, at, detail, model, notification, row, uid, wire
from sdk_corpus_builders import (
    COMMON,
    DIV,
    VOICE_IN,
    Q,
    generic,
    gp,
    queue_topic,
    segment,
    session,
)


def d6_lone_surrogate() -> Scenario:
    s = Scenario(
        "sdk_d6_lone_surrogate",
        "defect 6: lone surrogate escapes (a name cut mid-emoji, an ani) are "
        "repaired to U+FFFD; every line folds",
    )
    c, q = uid("d6 conversation"), uid("d6 queue")
    cust, acd, agent, u = uid("d6 customer"), uid("d6 acd"), uid("d6 agent"), uid("d6 user")
    t = at
    cc = {
        "id": uid("d6 cc"),
        "state": "connected",
        "direction": "inbound",
        "connected_time": t("10:00:00.000"),
    }
    ac = {
        "id": uid("d6 ac"),
        "state": "connected",
        "direction": "inbound",
        "connected_time": t("10:00:00.050"),
    }
    customer = gp(Q, cust, "customer", "calls", [cc], name="Ana SURROGATE", connected_time=t("10:00:00.000"))
    acd_on = gp(Q, acd, "acd", "calls", [ac], queue_id=q, connected_time=t("10:00:00.050"))
    line = notification(queue_topic(q), generic(Q, c, [customer, acd_on]), t("10:00:00.150"))
    text = json.dumps(line, separators=(",", ":")).replace("SURROGATE", "\\ud83d")  # half an emoji
    s.add_raw(text, c, "waiting_in_queue", q)
    ani = detail(
        "user.start",
        c,
        t("10:00:20.000"),
        t("10:00:20.080"),
        participant_id=agent,
        session_id=uid("d6 gs"),
        user_id=u,
        queue_id=q,
        ani="SURROGATE",
        **VOICE_IN,
    )
    s.add_raw(json.dumps(ani, separators=(",", ":")).replace("SURROGATE", "\\udc00x"), c, "alerting", q)
    s.final.append(
        row(
            c,
            "alerting",
            t("10:00:20.000"),
            last_queue_id=q,
            last_queue_name=None,
            conversation_start=t("10:00:00.000"),
            conversation_end=None,
            originating_direction="inbound",
            original_media_type="voice",
            conversation_initiator="customer",
            self_served=None,
            division_ids=[DIV],
            last_event_at=t("10:00:20.000"),
            **COMMON,
        )
    )
    return s


def d7_far_future_time() -> Scenario:
    s = Scenario(
        "sdk_d7_far_future_time",
        "defect 7: eventTime 1e17 and 2**64 are rejected with a reason; the lines after them fold",
    )
    c, cust, cs = uid("d7 conversation"), uid("d7 customer"), uid("d7 cs")
    fields = {"participant_id": cust, "session_id": cs, **VOICE_IN}
    for bad in (10**17, 2**64):
        body = model(
            "CustomerStartDetailEventTopicCustomerStartEvent", event_time=bad, conversation_id=c, **fields
        )
        s.reject(
            notification(f"v2.detail.events.conversation.{c}.customer.start", body, None), "out of range"
        )
    s.add(detail("customer.start", c, at("10:00:00.000"), at("10:00:00.080"), **fields), c, "active", None)
    s.add(
        detail("customer.end", c, at("10:01:00.000"), at("10:01:00.080"), disconnect_type="PEER", **fields),
        c,
        "ended",
        None,
    )
    s.final.append(
        row(
            c,
            "ended",
            at("10:01:00.000"),
            last_queue_id=None,
            last_queue_name=None,
            conversation_start=at("10:00:00.000"),
            conversation_end=at("10:01:00.000"),
            originating_direction="inbound",
            original_media_type="voice",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[],
            last_event_at=at("10:01:00.000"),
            **COMMON,
        )
    )
    return s


def d8_small_input_defects() -> Scenario:
    s = Scenario(
        "sdk_d8_small_input_defects",
        "defect 8: a year-1 time prints zero-padded; a lowercase z is "
        "accepted; a numeric CorrelationId is kept; a details page keeps its good record and reports the "
        "one without conversationId; a body written with the SDK's to_json() is rejected with a reason",
    )
    t = at
    y1, lz, num = uid("d8 year one"), uid("d8 lowercase z"), uid("d8 numeric correlation")
    q = uid("d8 queue")

    def lone_customer(c: str, connected: datetime) -> Any:
        call = {
            "id": uid(f"{c} call"),
            "state": "connected",
            "direction": "inbound",
            "connected_time": connected,
        }
        return generic(
            Q,
            c,
            [gp(Q, uid(f"{c} customer"), "customer", "calls", [call], connected_time=connected)],
            divisions=False,
        )

    year_one = datetime(1, 1, 1, tzinfo=UTC)
    s.add(notification(queue_topic(q), lone_customer(y1, year_one), t("10:00:00.000")), y1, "active", None)
    lower = json.dumps(
        notification(queue_topic(q), lone_customer(lz, t("10:00:01.000")), t("10:00:01.100")),
        separators=(",", ":"),
    ).replace("+00:00", "z")
    s.add_raw(lower, lz, "active", None)
    s.add(
        notification(
            queue_topic(q), lone_customer(num, t("10:00:02.000")), t("10:00:02.100"), correlation=987654321
        ),
        num,
        "active",
        None,
    )
    good, bad = uid("d8 page good"), uid("d8 page bad")
    interact = session(uid("d8 page s"), "voice", "inbound", [segment("interact", "10:00:03.000")])
    records = [
        model(
            "AnalyticsConversationWithoutAttributes",
            conversation_id=cid,
            conversation_start=t("10:00:03.000"),
            participants=[
                model(
                    "AnalyticsParticipantWithoutAttributes",
                    participant_id=uid(f"{cid} p"),
                    purpose="customer",
                    sessions=[interact],
                )
            ],
        )
        for cid in (good, bad)
    ]
    page = {
        "conversations": [wire(r) for r in records],
        "totalHits": 2,
        "receivedAt": "2025-03-03T10:00:03.100Z",
    }
    del page["conversations"][1]["conversationId"]
    s.add(page, good, "active", None)
    s.rejected.append({"line": len(s.lines), "reason_contains": "conversations[1].conversationId missing"})
    sdk_json = lone_customer(uid("d8 to_json"), t("10:00:04.000"))
    s.reject(
        {"topicName": queue_topic(q), "version": "2", "eventBody": json.loads(sdk_json.to_json())},
        "to_json()",
    )
    for c, start, changed in (
        (y1, year_one, t("10:00:00.000")),
        (lz, t("10:00:01.000"), t("10:00:01.100")),
        (num, t("10:00:02.000"), t("10:00:02.100")),
        (good, t("10:00:03.000"), t("10:00:03.100")),
    ):
        s.final.append(
            row(
                c,
                "active",
                changed,
                last_queue_id=None,
                last_queue_name=None,
                conversation_start=start,
                conversation_end=None,
                originating_direction="inbound",
                original_media_type="voice",
                conversation_initiator="customer",
                self_served=None,
                division_ids=[],
                last_event_at=changed,
                **COMMON,
            )
        )
    return s


SCENARIOS: list[Callable[[], Scenario]] = [
    d6_lone_surrogate,
    d7_far_future_time,
    d8_small_input_defects,
]
