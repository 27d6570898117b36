"""Voice scenarios of :mod:`sdk_corpus` (conventions: :mod:`sdk_corpus_builders`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sdk_corpus import Scenario, at, notification, row, uid
from sdk_corpus_builders import (
    COMMON,
    DIV,
    Q,
    U,
    generic,
    gp,
    media_body,
    mp,
    queue_topic,
    user_topic,
)


def ivr_queue_agent_hold_wrapup() -> Scenario:
    s = Scenario("sdk_ivr_queue_agent_hold_wrapup", "IVR -> queue -> agent -> hold -> unhold -> wrap-up")
    c, queue, user = uid("ivr-hold conversation"), uid("queue sales"), uid("user alice")
    cust, ivr, acd, agent = (uid(f"ivr-hold {x}") for x in ("customer", "ivr", "acd", "agent"))
    t = at
    customer_call = {
        "id": uid("ivr-hold c-call"),
        "state": "connected",
        "direction": "inbound",
        "connected_time": t("10:00:00.000"),
    }
    ivr_call = {
        "id": uid("ivr-hold i-call"),
        "state": "connected",
        "direction": "inbound",
        "connected_time": t("10:00:00.050"),
    }
    acd_call = {
        "id": uid("ivr-hold a-call"),
        "state": "connected",
        "direction": "inbound",
        "connected_time": t("10:00:30.050"),
    }
    agent_call = {"id": uid("ivr-hold g-call"), "state": "alerting", "direction": "inbound"}

    def body(
        cust_call: dict[str, Any],
        ivr_p: Any,
        acd_p: Any | None,
        agent_p: Any | None,
        cust_end: datetime | None = None,
    ) -> Any:
        extra = {"end_time": cust_end} if cust_end else {}
        ps = [
            gp(
                Q,
                cust,
                "customer",
                "calls",
                [cust_call],
                name="Jane Doe",
                connected_time=t("10:00:00.000"),
                **extra,
            ),
            ivr_p,
        ]
        ps += [p for p in (acd_p, agent_p) if p is not None]
        return generic(Q, c, ps)

    ivr_on = gp(Q, ivr, "ivr", "calls", [ivr_call], name="Main IVR", connected_time=t("10:00:00.050"))
    ivr_off = gp(
        Q,
        ivr,
        "ivr",
        "calls",
        [{**ivr_call, "state": "disconnected", "disconnected_time": t("10:00:30.000")}],
        name="Main IVR",
        connected_time=t("10:00:00.050"),
        end_time=t("10:00:30.000"),
    )
    acd_on = gp(
        Q, acd, "acd", "calls", [acd_call], name="Sales", queue_id=queue, connected_time=t("10:00:30.050")
    )
    acd_off = gp(
        Q,
        acd,
        "acd",
        "calls",
        [{**acd_call, "state": "disconnected", "disconnected_time": t("10:01:05.000")}],
        name="Sales",
        queue_id=queue,
        connected_time=t("10:00:30.050"),
        end_time=t("10:01:05.000"),
    )
    agent_base = {"name": "Alice", "user_id": user, "queue_id": queue, "wrapup_required": True}
    connected = {**agent_call, "state": "connected", "connected_time": t("10:01:05.000"), "held": False}

    def agent_p(call: dict[str, Any], **more: Any) -> Any:
        return gp(Q, agent, "agent", "calls", [call], **agent_base, **more)

    topic = queue_topic(queue)
    s.add(notification(topic, body(customer_call, ivr_on, None, None), t("10:00:00.150")), c, "in_ivr", None)
    s.add(
        notification(topic, body(customer_call, ivr_off, acd_on, None), t("10:00:30.150")),
        c,
        "waiting_in_queue",
        queue,
    )
    s.add(
        notification(topic, body(customer_call, ivr_off, acd_on, agent_p(agent_call)), t("10:01:00.100")),
        c,
        "alerting",
        queue,
    )
    at_agent = agent_p(connected, connected_time=t("10:01:05.000"))
    s.add(
        notification(topic, body(customer_call, ivr_off, acd_off, at_agent), t("10:01:05.100")),
        c,
        "connected",
        queue,
    )
    held = agent_p(
        {**connected, "held": True, "start_hold_time": t("10:02:00.000")}, connected_time=t("10:01:05.000")
    )
    s.add(
        notification(topic, body(customer_call, ivr_off, acd_off, held), t("10:02:00.100")),
        c,
        "on_hold",
        queue,
    )
    s.add(
        notification(topic, body(customer_call, ivr_off, acd_off, at_agent), t("10:03:00.100")),
        c,
        "connected",
        queue,
    )
    hung = {
        **customer_call,
        "state": "disconnected",
        "disconnected_time": t("10:05:00.000"),
        "disconnect_type": "peer",
    }
    acw = {"state": "pending", "start_time": t("10:05:00.000")}
    gone = {
        **connected,
        "state": "disconnected",
        "disconnected_time": t("10:05:00.000"),
        "after_call_work": acw,
    }
    wrap = agent_p(
        gone, connected_time=t("10:01:05.000"), end_time=t("10:05:00.000"), start_acw_time=t("10:05:00.000")
    )
    end = t("10:05:00.000")
    s.add(
        notification(
            topic,
            body(hung, ivr_off, acd_off, wrap),
            t("10:05:00.100"),
        ),
        c,
        "wrap_up",
        queue,
    )
    done_acw = {"state": "complete", "start_time": t("10:05:00.000"), "end_time": t("10:05:30.000")}
    done = agent_p(
        {**gone, "after_call_work": done_acw},
        connected_time=t("10:01:05.000"),
        end_time=end,
        start_acw_time=end,
        end_acw_time=t("10:05:30.000"),
        wrapup={"code": uid("wrapup sold"), "notes": "sold", "duration_seconds": 30},
    )
    s.add(notification(topic, body(hung, ivr_off, acd_off, done, end), t("10:05:30.100")), c, "ended", queue)
    s.final.append(
        row(
            c,
            "ended",
            t("10:05:30.100"),
            last_queue_id=queue,
            last_queue_name=None,
            conversation_start=t("10:00:00.000"),
            conversation_end=end,
            originating_direction="inbound",
            original_media_type="voice",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[DIV],
            last_event_at=t("10:05:30.100"),
            **COMMON,
        )
    )
    return s


def transfer_between_queues() -> Scenario:
    s = Scenario(
        "sdk_transfer_between_queues",
        "queue .calls topic: Billing -> agent 1 -> blind transfer "
        "to Support -> agent 2; the queue names ride on the events",
    )
    c, q1, q2 = uid("xfer conversation"), uid("queue billing"), uid("queue support")
    u1, u2 = uid("user bob"), uid("user carol")
    cust, acd1, ag1, acd2, ag2 = (uid(f"xfer {x}") for x in ("customer", "acd1", "agent1", "acd2", "agent2"))
    billing, support = {"id": q1, "name": "Billing"}, {"id": q2, "name": "Support"}
    t = at
    customer = mp(cust, "customer", "connected", t("10:00:00.000"), direction="inbound", name="Jane Doe")
    a1_on = mp(acd1, "acd", "connected", t("10:00:00.050"), direction="inbound", queue=billing)
    a1_off = mp(
        acd1,
        "acd",
        "disconnected",
        t("10:00:00.050"),
        t("10:00:20.000"),
        direction="inbound",
        queue=billing,
        disconnect_type="transfer",
    )
    g1_on = mp(ag1, "agent", "connected", t("10:00:20.000"), direction="inbound", queue=billing, user=u1)
    g1_off = mp(
        ag1,
        "agent",
        "disconnected",
        t("10:00:20.000"),
        t("10:02:00.000"),
        direction="inbound",
        queue=billing,
        user=u1,
        disconnect_type="transfer",
    )
    a2_on = mp(acd2, "acd", "connected", t("10:02:00.050"), direction="inbound", queue=support)
    a2_off = mp(
        acd2,
        "acd",
        "disconnected",
        t("10:02:00.050"),
        t("10:02:30.000"),
        direction="inbound",
        queue=support,
        disconnect_type="transfer",
    )
    g2_on = mp(ag2, "agent", "connected", t("10:02:30.000"), direction="inbound", queue=support, user=u2)
    g2_off = mp(
        ag2,
        "agent",
        "disconnected",
        t("10:02:30.000"),
        t("10:06:00.000"),
        direction="inbound",
        queue=support,
        user=u2,
        disconnect_type="client",
    )
    cust_off = mp(
        cust,
        "customer",
        "disconnected",
        t("10:00:00.000"),
        t("10:06:00.000"),
        direction="inbound",
        name="Jane Doe",
        disconnect_type="peer",
    )
    steps = [
        ([customer, a1_on], "10:00:00.150", "waiting_in_queue", q1),
        ([customer, a1_off, g1_on], "10:00:20.100", "connected", q1),
        ([customer, a1_off, g1_off, a2_on], "10:02:00.150", "waiting_in_queue", q2),
        ([customer, a1_off, g1_off, a2_off, g2_on], "10:02:30.100", "connected", q2),
        ([cust_off, a1_off, g1_off, a2_off, g2_off], "10:06:00.100", "ended", q2),
    ]
    for participants, received, status, queue in steps:
        body = media_body("QueueConversation", "Call", c, participants)
        s.add(
            notification(queue_topic(q2 if queue == q2 else q1, ".calls"), body, t(received)),
            c,
            status,
            queue,
        )
    s.final.append(
        row(
            c,
            "ended",
            t("10:06:00.100"),
            last_queue_id=q2,
            last_queue_name="Support",
            conversation_start=t("10:00:00.000"),
            conversation_end=t("10:06:00.000"),
            originating_direction="inbound",
            original_media_type="voice",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[],
            last_event_at=t("10:06:00.100"),
            **COMMON,
        )
    )
    return s


def outbound_call() -> Scenario:
    s = Scenario(
        "sdk_outbound_call",
        "users topic: an agent dials a customer (dialing/contacting), the customer answers, both hang up",
    )
    c, q, u = uid("out conversation"), uid("queue outbound"), uid("user frank")
    agent, cust = uid("out agent"), uid("out customer")
    t = at
    a_call = {
        "id": uid("out a-call"),
        "direction": "outbound",
        "held": False,
        "connected_time": t("12:00:00.100"),
    }
    c_call = {"id": uid("out c-call"), "direction": "outbound", "held": False}
    base = {"name": "Frank", "user_id": u, "queue_id": q, "connected_time": t("12:00:00.100")}
    end = t("12:03:00.000")
    lines = [
        (
            [
                gp(U, agent, "agent", "calls", [{**a_call, "state": "dialing"}], **base),
                gp(
                    U,
                    cust,
                    "customer",
                    "calls",
                    [{**c_call, "state": "contacting"}],
                    address="tel:+15557654321",
                ),
            ],
            t("12:00:00.300"),
            "dialing",
        ),
        (
            [
                gp(U, agent, "agent", "calls", [{**a_call, "state": "connected"}], **base),
                gp(
                    U,
                    cust,
                    "customer",
                    "calls",
                    [{**c_call, "state": "connected", "connected_time": t("12:00:10.000")}],
                    connected_time=t("12:00:10.000"),
                ),
            ],
            t("12:00:10.100"),
            "connected",
        ),
        (
            [
                gp(
                    U,
                    agent,
                    "agent",
                    "calls",
                    [{**a_call, "state": "disconnected", "disconnected_time": end}],
                    **base,
                    end_time=end,
                ),
                gp(
                    U,
                    cust,
                    "customer",
                    "calls",
                    [
                        {
                            **c_call,
                            "state": "disconnected",
                            "connected_time": t("12:00:10.000"),
                            "disconnected_time": end,
                        }
                    ],
                    connected_time=t("12:00:10.000"),
                    end_time=end,
                ),
            ],
            t("12:03:00.100"),
            "ended",
        ),
    ]
    for participants, received, status in lines:
        s.add(
            notification(user_topic(u), generic(U, c, participants, divisions=False), received), c, status, q
        )
    s.final.append(
        row(
            c,
            "ended",
            t("12:03:00.100"),
            last_queue_id=q,
            last_queue_name=None,
            conversation_start=t("12:00:00.100"),
            conversation_end=end,
            originating_direction="outbound",
            original_media_type="voice",
            conversation_initiator="agent",
            self_served=False,
            division_ids=[],
            last_event_at=t("12:03:00.100"),
            **COMMON,
        )
    )
    return s


SCENARIOS: list[Callable[[], Scenario]] = [
    ivr_queue_agent_hold_wrapup,
    transfer_between_queues,
    outbound_call,
]
