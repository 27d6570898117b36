"""The Genesys-fidelity issue's defects as SDK-built golden streams (see :mod:`sdk_corpus`).

``sdk_d1``-``sdk_d5`` state Genesys' meaning, which the fold before that issue's fixes gets wrong;
``sdk_d6``-``sdk_d8`` are input handling (repair, or reject the line with a reason and fold the rest).
Conventions as in :mod:`sdk_corpus_scenarios`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sdk_corpus import Scenario, analytics, at, detail, model, notification, row, uid, wire
from sdk_corpus_scenarios import (
    COMMON,
    DELIVERY,
    DIV,
    Q,
    U,
    generic,
    gp,
    media_body,
    mp,
    queue_topic,
    segment,
    user_topic,
)
from sdk_corpus_scenarios import session as a_session

VOICE_IN = {"media_type": "VOICE", "direction": "INBOUND"}


def _call_to_agent(name: str, prefix: str = Q) -> tuple[str, str, str, str, list[Any]]:
    """Conversation id, queue, customer and agent ids, and the first two snapshots' participants
    (customer + acd waiting; then the agent connected) of a plain inbound call."""
    c, q = uid(f"{name} conversation"), uid(f"{name} queue")
    cust, acd = uid(f"{name} customer"), uid(f"{name} acd")
    return c, q, cust, acd, []


def d1_acw_skipped_generic() -> Scenario:
    s = Scenario(
        "sdk_d1_acw_skipped_generic",
        "defect 1: generic topic, after-call work skipped "
        "(afterCallWork.state skipped, endAcwTime, no wrapup) while wrapupRequired: ended, not wrap_up",
    )
    c, q, cust, acd, _ = _call_to_agent("d1g")
    agent, u = uid("d1g agent"), uid("d1g user")
    t = at
    cc = {
        "id": uid("d1g cc"),
        "state": "connected",
        "direction": "inbound",
        "connected_time": t("10:00:00.000"),
    }
    ac = {
        "id": uid("d1g ac"),
        "state": "connected",
        "direction": "inbound",
        "connected_time": t("10:00:00.050"),
    }
    gc = {
        "id": uid("d1g gc"),
        "state": "connected",
        "direction": "inbound",
        "connected_time": t("10:00:10.000"),
    }
    end = t("10:03:00.000")
    off = {"state": "disconnected", "disconnected_time": end}
    customer = gp(Q, cust, "customer", "calls", [cc], connected_time=t("10:00:00.000"))
    cust_off = gp(
        Q, cust, "customer", "calls", [{**cc, **off}], connected_time=t("10:00:00.000"), end_time=end
    )
    acd_on = gp(Q, acd, "acd", "calls", [ac], queue_id=q, connected_time=t("10:00:00.050"))
    acd_off = gp(
        Q,
        acd,
        "acd",
        "calls",
        [{**ac, "state": "disconnected", "disconnected_time": t("10:00:10.000")}],
        queue_id=q,
        connected_time=t("10:00:00.050"),
        end_time=t("10:00:10.000"),
    )
    base = {"user_id": u, "queue_id": q, "wrapup_required": True, "connected_time": t("10:00:10.000")}
    agent_on = gp(Q, agent, "agent", "calls", [gc], **base)
    pending = gp(
        Q,
        agent,
        "agent",
        "calls",
        [{**gc, **off, "after_call_work": {"state": "pending", "start_time": end}}],
        **base,
        end_time=end,
        start_acw_time=end,
    )
    skipped_acw = {"state": "skipped", "start_time": end, "end_time": t("10:03:05.000")}
    skipped = gp(
        Q,
        agent,
        "agent",
        "calls",
        [{**gc, **off, "after_call_work": skipped_acw}],
        **base,
        end_time=end,
        start_acw_time=end,
        end_acw_time=t("10:03:05.000"),
    )
    lines = [
        ([customer, acd_on], t("10:00:00.150"), "waiting_in_queue"),
        ([customer, acd_off, agent_on], t("10:00:10.100"), "connected"),
        ([cust_off, acd_off, pending], t("10:03:00.100"), "wrap_up"),
        ([cust_off, acd_off, skipped], t("10:03:05.100"), "ended"),
    ]
    for participants, received, status in lines:
        s.add(notification(queue_topic(q), generic(Q, c, participants), received), c, status, q)
    s.final.append(
        row(
            c,
            "ended",
            t("10:03:05.100"),
            last_queue_id=q,
            last_queue_name=None,
            conversation_start=t("10:00:00.000"),
            conversation_end=end,
            originating_direction="inbound",
            original_media_type="voice",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[DIV],
            last_event_at=t("10:03:05.100"),
            **COMMON,
        )
    )
    return s


def d1_wrapup_skipped_calls() -> Scenario:
    s = Scenario(
        "sdk_d1_wrapup_skipped_calls",
        "defect 1: .calls topic, wrapupRequired with wrapupSkipped and endAcwTime: ended, not wrap_up",
    )
    c, q, cust, acd, _ = _call_to_agent("d1m")
    agent, u = uid("d1m agent"), uid("d1m user")
    queue = {"id": q, "name": "Sales"}
    t = at
    end = t("10:03:00.000")
    inbound = {"direction": "inbound"}
    customer = mp(cust, "customer", "connected", t("10:00:00.000"), **inbound)
    cust_off = mp(cust, "customer", "disconnected", t("10:00:00.000"), end, **inbound)
    acd_on = mp(acd, "acd", "connected", t("10:00:00.050"), queue=queue, **inbound)
    acd_off = mp(acd, "acd", "disconnected", t("10:00:00.050"), t("10:00:10.000"), queue=queue, **inbound)
    base = {"queue": queue, "user": u, "wrapup_required": True, **inbound}
    agent_on = mp(agent, "agent", "connected", t("10:00:10.000"), **base)
    pending = mp(agent, "agent", "disconnected", t("10:00:10.000"), end, start_acw_time=end, **base)
    skipped = mp(
        agent,
        "agent",
        "disconnected",
        t("10:00:10.000"),
        end,
        start_acw_time=end,
        end_acw_time=t("10:03:02.000"),
        wrapup_skipped=True,
        **base,
    )
    lines = [
        ([customer, acd_on], t("10:00:00.150"), "waiting_in_queue"),
        ([customer, acd_off, agent_on], t("10:00:10.100"), "connected"),
        ([cust_off, acd_off, pending], t("10:03:00.100"), "wrap_up"),
        ([cust_off, acd_off, skipped], t("10:03:02.100"), "ended"),
    ]
    for participants, received, status in lines:
        body = media_body("QueueConversation", "Call", c, participants)
        s.add(notification(queue_topic(q, ".calls"), body, received), c, status, q)
    s.final.append(
        row(
            c,
            "ended",
            t("10:03:02.100"),
            last_queue_id=q,
            last_queue_name="Sales",
            conversation_start=t("10:00:00.000"),
            conversation_end=end,
            originating_direction="inbound",
            original_media_type="voice",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[],
            last_event_at=t("10:03:02.100"),
            **COMMON,
        )
    )
    return s


def d2_abandon_in_queue() -> Scenario:
    s = Scenario(
        "sdk_d2_abandon_in_queue",
        "defect 2: IVR transfers to a queue, the customer hangs up there: not self-served",
    )
    c, q = uid("d2 conversation"), uid("d2 queue")
    cust, ivr, acd = uid("d2 customer"), uid("d2 ivr"), uid("d2 acd")
    cs, fs, qs = uid("d2 cs"), uid("d2 fs"), uid("d2 qs")
    events = [
        (
            "customer.start",
            "10:00:00.000",
            {"participant_id": cust, "session_id": cs, **VOICE_IN},
            "active",
            None,
        ),
        (
            "flow.start",
            "10:00:00.050",
            {"participant_id": ivr, "session_id": fs, "flow_type": "INBOUNDCALL", **VOICE_IN},
            "in_ivr",
            None,
        ),
        (
            "flow.end",
            "10:00:30.000",
            {
                "participant_id": ivr,
                "session_id": fs,
                "flow_type": "INBOUNDCALL",
                "disconnect_type": "TRANSFER",
                **VOICE_IN,
            },
            "active",
            None,
        ),
        (
            "acd.start",
            "10:00:30.050",
            {"participant_id": acd, "session_id": qs, "queue_id": q, **VOICE_IN},
            "waiting_in_queue",
            q,
        ),
        (
            "acd.end",
            "10:02:00.000",
            {
                "participant_id": acd,
                "session_id": qs,
                "queue_id": q,
                "acd_outcome": "ABANDON",
                "disconnect_type": "PEER",
                **VOICE_IN,
            },
            "active",
            q,
        ),
        (
            "customer.end",
            "10:02:00.000",
            {"participant_id": cust, "session_id": cs, "disconnect_type": "PEER", **VOICE_IN},
            "ended",
            q,
        ),
    ]
    for kind, clock, fields, status, queue in events:
        s.add(detail(kind, c, at(clock), at(clock) + DELIVERY, **fields), c, status, queue)
    s.final.append(
        row(
            c,
            "ended",
            at("10:02:00.000"),
            last_queue_id=q,
            last_queue_name=None,
            conversation_start=at("10:00:00.000"),
            conversation_end=at("10:02:00.000"),
            originating_direction="inbound",
            original_media_type="voice",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[],
            last_event_at=at("10:02:00.000"),
            **COMMON,
        )
    )
    return s


def d3_outbound_detail_only() -> Scenario:
    s = Scenario(
        "sdk_d3_outbound_detail_only",
        "defect 3: an agent-placed call seen only through detail events "
        "(no ACD leg): dialing -> connected -> ended",
    )
    c, u = uid("d3 conversation"), uid("d3 user")
    agent, cust, gs, cs = uid("d3 agent"), uid("d3 customer"), uid("d3 gs"), uid("d3 cs")
    out = {"media_type": "VOICE", "direction": "OUTBOUND"}
    events = [
        (
            "user.start",
            "12:00:00.000",
            {"participant_id": agent, "session_id": gs, "user_id": u, **out},
            "dialing",
        ),
        (
            "customer.start",
            "12:00:09.000",
            {"participant_id": cust, "session_id": cs, "dnis": "tel:+15557654321", **out},
            "connected",
        ),
        (
            "customer.end",
            "12:04:00.000",
            {"participant_id": cust, "session_id": cs, "disconnect_type": "PEER", **out},
            "connected",
        ),
        (
            "user.end",
            "12:04:00.050",
            {"participant_id": agent, "session_id": gs, "user_id": u, "disconnect_type": "CLIENT", **out},
            "ended",
        ),
    ]
    for kind, clock, fields, status in events:
        s.add(detail(kind, c, at(clock), at(clock) + DELIVERY, **fields), c, status, None)
    s.final.append(
        row(
            c,
            "ended",
            at("12:04:00.050"),
            last_queue_id=None,
            last_queue_name=None,
            conversation_start=at("12:00:00.000"),
            conversation_end=at("12:04:00.050"),
            originating_direction="outbound",
            original_media_type="voice",
            conversation_initiator="agent",
            self_served=False,
            division_ids=[],
            last_event_at=at("12:04:00.050"),
            **COMMON,
        )
    )
    return s


def d4_initiator_tie() -> Scenario:
    s = Scenario(
        "sdk_d4_initiator_tie",
        "defect 4: an agent dials; both legs connect at the same instant; the "
        "agent is the initiator whatever the participant ids (two conversations, ids in both orders)",
    )
    t = at
    both = t("12:00:05.000")
    for tag, agent, cust in (
        (
            "low customer id",
            "f" * 8 + "-0000-4000-8000-000000000001",
            "0" * 8 + "-0000-4000-8000-000000000002",
        ),
        ("low agent id", "0" * 8 + "-0000-4000-8000-000000000003", "f" * 8 + "-0000-4000-8000-000000000004"),
    ):
        c, u = uid(f"d4 {tag} conversation"), uid(f"d4 {tag} user")
        a_call = {"id": uid(f"d4 {tag} a"), "direction": "outbound"}
        c_call = {"id": uid(f"d4 {tag} c"), "direction": "outbound"}
        dialing = [
            gp(U, agent, "agent", "calls", [{**a_call, "state": "dialing"}], user_id=u),
            gp(U, cust, "customer", "calls", [{**c_call, "state": "contacting"}]),
        ]
        talking = [
            gp(
                U,
                agent,
                "agent",
                "calls",
                [{**a_call, "state": "connected", "connected_time": both}],
                user_id=u,
                connected_time=both,
            ),
            gp(
                U,
                cust,
                "customer",
                "calls",
                [{**c_call, "state": "connected", "connected_time": both}],
                connected_time=both,
            ),
        ]
        s.add(
            notification(user_topic(u), generic(U, c, dialing, divisions=False), t("12:00:00.100")),
            c,
            "dialing",
            None,
        )
        s.add(
            notification(user_topic(u), generic(U, c, talking, divisions=False), t("12:00:05.100")),
            c,
            "connected",
            None,
        )
        s.final.append(
            row(
                c,
                "connected",
                t("12:00:05.100"),
                last_queue_id=None,
                last_queue_name=None,
                conversation_start=both,
                conversation_end=None,
                originating_direction="outbound",
                original_media_type="voice",
                conversation_initiator="agent",
                self_served=None,
                division_ids=[],
                last_event_at=t("12:00:05.100"),
                **COMMON,
            )
        )
    return s


def d5_analytics_outbound_start() -> Scenario:
    s = Scenario(
        "sdk_d5_analytics_outbound_start",
        "defect 5a: an analytics record's own conversationStart "
        "(the agent starts dialing) is the start, also once the record is finished",
    )
    c, u = uid("d5a conversation"), uid("d5a user")
    agent, cust = uid("d5a agent"), uid("d5a customer")

    def record(agent_segments: list[Any], customer: Any | None, **more: Any) -> Any:
        ps = [
            model(
                "AnalyticsParticipantWithoutAttributes",
                participant_id=agent,
                purpose="agent",
                user_id=u,
                sessions=[a_session(uid("d5a as"), "voice", "outbound", agent_segments)],
            )
        ]
        if customer is not None:
            ps.append(customer)
        return model(
            "AnalyticsConversationWithoutAttributes",
            conversation_id=c,
            participants=ps,
            conversation_start=at("12:00:00.000"),
            originating_direction="outbound",
            conversation_initiator="agent",
            **more,
        )

    dialing = record([segment("dialing", "12:00:00.000")], None)
    s.add(analytics(dialing, at("12:00:05.000")), c, "dialing", None)
    customer = model(
        "AnalyticsParticipantWithoutAttributes",
        participant_id=cust,
        purpose="customer",
        sessions=[
            a_session(
                uid("d5a cs"),
                "voice",
                "outbound",
                [segment("interact", "12:00:08.000", "12:03:00.000", disconnect_type="peer")],
            )
        ],
    )
    done = record(
        [
            segment("dialing", "12:00:00.000", "12:00:08.000"),
            segment("interact", "12:00:08.000", "12:03:00.000", disconnect_type="client"),
        ],
        customer,
        conversation_end=at("12:03:00.000"),
        customer_participation=True,
    )
    s.add(analytics(done, at("12:03:10.000")), c, "ended", None)
    s.final.append(
        row(
            c,
            "ended",
            at("12:03:10.000"),
            last_queue_id=None,
            last_queue_name=None,
            conversation_start=at("12:00:00.000"),
            conversation_end=at("12:03:00.000"),
            originating_direction="outbound",
            original_media_type="voice",
            conversation_initiator="agent",
            external_tag=None,
            self_served=False,
            customer_participation=True,
            division_ids=[],
            last_event_at=at("12:03:10.000"),
        )
    )
    return s


def d5_callback_voice_leg() -> Scenario:
    s = Scenario(
        "sdk_d5_callback_voice_leg",
        "defect 5b: a callback (.callbacks) whose voice leg (.calls, "
        "connected hours later) arrives last: the conversation start stays the callback request's",
    )
    c, q, u = uid("d5b conversation"), uid("d5b queue"), uid("d5b user")
    cust, acd, agent = uid("d5b customer"), uid("d5b acd"), uid("d5b agent")
    queue = {"id": q, "name": "Callbacks"}
    t = at
    sched = {"callback_scheduled_time": t("14:00:00.000"), "callback_numbers": ["+15551230000"]}
    end = t("14:05:00.000")
    cb = "QueueConversation", "Callback", c
    customer = mp(cust, "customer", "connected", t("10:00:00.000"), direction="inbound", **sched)
    cust_off = mp(cust, "customer", "disconnected", t("10:00:00.000"), end, direction="inbound", **sched)
    acd_sched = mp(acd, "acd", "scheduled", t("10:00:00.050"), direction="inbound", queue=queue, **sched)
    acd_off = mp(
        acd,
        "acd",
        "disconnected",
        t("10:00:00.050"),
        t("14:00:20.000"),
        direction="inbound",
        queue=queue,
        **sched,
    )
    agent_cb = mp(
        agent, "agent", "connected", t("14:00:20.000"), direction="outbound", queue=queue, user=u, **sched
    )
    agent_cb_off = mp(
        agent,
        "agent",
        "disconnected",
        t("14:00:20.000"),
        end,
        direction="outbound",
        queue=queue,
        user=u,
        **sched,
    )
    s.add(
        notification(queue_topic(q, ".callbacks"), media_body(*cb, [customer, acd_sched]), t("10:00:00.150")),
        c,
        "scheduled_callback",
        q,
    )
    s.add(
        notification(
            queue_topic(q, ".callbacks"), media_body(*cb, [customer, acd_off, agent_cb]), t("14:00:20.100")
        ),
        c,
        "connected",
        q,
    )
    s.add(
        notification(
            queue_topic(q, ".callbacks"),
            media_body(*cb, [cust_off, acd_off, agent_cb_off]),
            t("14:05:00.100"),
        ),
        c,
        "ended",
        q,
    )
    voice = [
        mp(cust, "customer", "disconnected", t("14:00:30.000"), end, direction="outbound"),
        mp(
            acd, "acd", "disconnected", t("10:00:00.050"), t("14:00:20.000"), direction="inbound", queue=queue
        ),
        mp(agent, "agent", "disconnected", t("14:00:30.000"), end, direction="outbound", queue=queue, user=u),
    ]
    s.add(
        notification(
            queue_topic(q, ".calls"), media_body("QueueConversation", "Call", c, voice), t("14:05:00.200")
        ),
        c,
        "ended",
        q,
    )
    s.final.append(
        row(
            c,
            "ended",
            t("14:05:00.100"),
            last_queue_id=q,
            last_queue_name="Callbacks",
            conversation_start=t("10:00:00.000"),
            conversation_end=end,
            originating_direction="inbound",
            original_media_type="callback",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[],
            last_event_at=t("14:05:00.200"),
            **COMMON,
        )
    )
    return s


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
    interact = a_session(uid("d8 page s"), "voice", "inbound", [segment("interact", "10:00:03.000")])
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
    d1_acw_skipped_generic,
    d1_wrapup_skipped_calls,
    d2_abandon_in_queue,
    d3_outbound_detail_only,
    d4_initiator_tie,
    d5_analytics_outbound_start,
    d5_callback_voice_leg,
    d6_lone_surrogate,
    d7_far_future_time,
    d8_small_input_defects,
]
