"""The scenarios of :mod:`sdk_corpus`: SDK-built Genesys streams with hand-derived expectations.

Conventions: every snapshot line has a ``receivedAt`` 100 ms after the latest observed time in its body,
so its event time (the later of the two) is the ``receivedAt``; detail events are delivered through
EventBridge 80 ms after their ``eventTime`` and take ``eventTime`` as event time. ``status_changed_at``
is the event time of the line that changed the status; ``last_event_at`` the latest event time.
Expected values follow Genesys' meaning and the documented rules (``tests/data/README.md``), including
the corrections of the Genesys-fidelity issue (``d1``-``d5`` streams need the fold fixes of that issue).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sdk_corpus import Scenario, analytics, at, detail, model, notification, row, uid

DIV = uid("division")
MS100 = timedelta(milliseconds=100)


# ------------------------------------------------------------------------------------------ builders


def generic(prefix: str, conversation: str, participants: list[Any], *, divisions: bool = True) -> Any:
    """A generic conversation-topic body (``QueueConversationEventTopic…`` or ``ConversationEventTopic…``)."""
    fields: dict[str, Any] = {"id": conversation, "participants": participants}
    if divisions:
        ref = model(f"{prefix}DivisionEntityRef", id=DIV)
        fields["divisions"] = [model(f"{prefix}ConversationDivisionMembership", division=ref, entities=[])]
    return model(f"{prefix}Conversation", **fields)


def gp(prefix: str, pid: str, purpose: str, media: str, comms: list[dict[str, Any]], **fields: Any) -> Any:
    """A generic participant with communications of one media array (``calls``, ``emails``…)."""
    cls = {
        "calls": "Call",
        "callbacks": "Callback",
        "emails": "Email",
        "chats": "Chat",
        "messages": "Message",
    }
    built = []
    for comm in comms:
        comm = dict(comm)
        if "after_call_work" in comm:
            comm["after_call_work"] = model(f"{prefix}AfterCallWork", **comm["after_call_work"])
        built.append(model(f"{prefix}{cls[media]}", **comm))
    if "wrapup" in fields:
        fields["wrapup"] = model(f"{prefix}Wrapup", **fields["wrapup"])
    return model(f"{prefix}Participant", id=pid, purpose=purpose, **{media: built}, **fields)


def media_body(prefix: str, stem: str, conversation: str, participants: list[dict[str, Any]]) -> Any:
    """A media-specific topic body (``QueueConversationCallEventTopicCallConversation`` …)."""
    built = []
    for p in participants:
        p = dict(p)
        if "queue" in p:
            p["queue"] = model(f"{prefix}{stem}EventTopicUriReference", **p["queue"])
        if "user" in p:
            p["user"] = model(f"{prefix}{stem}EventTopicUriReference", id=p["user"])
        if "wrapup" in p:
            p["wrapup"] = model(f"{prefix}{stem}EventTopicWrapup", **p["wrapup"])
        built.append(model(f"{prefix}{stem}EventTopic{stem}MediaParticipant", **p))
    return model(f"{prefix}{stem}EventTopic{stem}Conversation", id=conversation, participants=built)


def queue_topic(queue: str, suffix: str = "") -> str:
    return f"v2.routing.queues.{queue}.conversations{suffix}"


def user_topic(user: str, suffix: str = "") -> str:
    return f"v2.users.{user}.conversations{suffix}"


Q = "QueueConversationEventTopic"
U = "ConversationEventTopic"
COMMON = {"external_tag": None, "customer_participation": None}


# --------------------------------------------------------------------------------------- voice, generic


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


# ------------------------------------------------------------------------------------- media-specific


def mp(
    pid: str, purpose: str, state: str, connected: datetime | None, end: datetime | None = None, **more: Any
) -> dict[str, Any]:
    """A media-specific participant's fields (its one communication is the participant itself)."""
    fields: dict[str, Any] = {"id": pid, "purpose": purpose, "state": state, **more}
    if connected is not None:
        fields["connected_time"] = connected
    if end is not None:
        fields["end_time"] = end
    return fields


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


def scheduled_callback() -> Scenario:
    s = Scenario(
        "sdk_scheduled_callback",
        "queue .callbacks topic: callback scheduled for 14:00, routed, answered, wrap-up with a code",
    )
    c, q, u = uid("cb conversation"), uid("queue callbacks"), uid("user dave")
    cust, acd, agent = (uid(f"cb {x}") for x in ("customer", "acd", "agent"))
    queue = {"id": q, "name": "Callbacks"}
    t = at
    sched = {
        "callback_scheduled_time": t("14:00:00.000"),
        "callback_numbers": ["+15551230000"],
        "callback_user_name": "Jane Doe",
    }
    customer = mp(cust, "customer", "connected", t("10:00:00.100"), direction="inbound", **sched)
    acd_sched = mp(acd, "acd", "scheduled", t("10:00:00.150"), direction="inbound", queue=queue, **sched)
    acd_on = mp(acd, "acd", "connected", t("10:00:00.150"), direction="inbound", queue=queue, **sched)
    acd_off = mp(
        acd,
        "acd",
        "disconnected",
        t("10:00:00.150"),
        t("14:00:45.000"),
        direction="inbound",
        queue=queue,
        **sched,
    )
    base = {"direction": "outbound", "queue": queue, "user": u, "wrapup_required": True, **sched}
    alerting = mp(agent, "agent", "alerting", None, **base)
    talking = mp(agent, "agent", "connected", t("14:00:45.000"), **base)
    after = mp(
        agent,
        "agent",
        "disconnected",
        t("14:00:45.000"),
        t("14:05:00.000"),
        **base,
        start_acw_time=t("14:05:00.000"),
    )
    wrapped = mp(
        agent,
        "agent",
        "disconnected",
        t("14:00:45.000"),
        t("14:05:00.000"),
        **base,
        start_acw_time=t("14:05:00.000"),
        end_acw_time=t("14:05:20.000"),
        wrapup={"code": uid("wrapup callback done"), "duration_seconds": 20},
    )
    cust_off = mp(
        cust, "customer", "disconnected", t("10:00:00.100"), t("14:05:00.000"), direction="inbound", **sched
    )
    steps = [
        ([customer, acd_sched], "10:00:00.250", "scheduled_callback"),
        ([customer, acd_on], "14:00:00.100", "waiting_in_queue"),
        ([customer, acd_on, alerting], "14:00:40.050", "alerting"),
        ([customer, acd_off, talking], "14:00:45.100", "connected"),
        ([cust_off, acd_off, after], "14:05:00.100", "wrap_up"),
        ([cust_off, acd_off, wrapped], "14:05:20.100", "ended"),
    ]
    for participants, received, status in steps:
        body = media_body("QueueConversation", "Callback", c, participants)
        s.add(notification(queue_topic(q, ".callbacks"), body, t(received)), c, status, q)
    s.final.append(
        row(
            c,
            "ended",
            t("14:05:20.100"),
            last_queue_id=q,
            last_queue_name="Callbacks",
            conversation_start=t("10:00:00.100"),
            conversation_end=t("14:05:00.000"),
            originating_direction="inbound",
            original_media_type="callback",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[],
            last_event_at=t("14:05:20.100"),
            **COMMON,
        )
    )
    return s


def email_park_reopen() -> Scenario:
    s = Scenario(
        "sdk_email_park_reopen",
        "queue .emails topic: parked overnight, resumed, ended; a reply 4 days "
        "later threads in as new participants and ends again",
    )
    c, q, u = uid("email conversation"), uid("queue email"), uid("user erin")
    cust, acd, agent, cust2, acd2, agent2 = (uid(f"email {x}") for x in ("c", "a", "g", "c2", "a2", "g2"))
    queue = {"id": q, "name": "Email Support"}
    t = at
    inbound = {"direction": "inbound"}
    customer = mp(cust, "customer", "connected", t("09:00:00.000"), **inbound)
    acd_on = mp(acd, "acd", "connected", t("09:00:00.050"), queue=queue, **inbound)
    acd_off = mp(acd, "acd", "disconnected", t("09:00:00.050"), t("09:01:00.000"), queue=queue, **inbound)
    agent_on = mp(agent, "agent", "connected", t("09:01:00.000"), queue=queue, user=u, **inbound)
    parked = mp(
        agent,
        "agent",
        "parked",
        t("09:01:00.000"),
        queue=queue,
        user=u,
        park_time=t("09:10:00.000"),
        resume_time=t("09:00:00.000", day=1),
        **inbound,
    )
    agent_off = mp(
        agent,
        "agent",
        "disconnected",
        t("09:01:00.000"),
        t("09:05:00.000", day=1),
        queue=queue,
        user=u,
        **inbound,
    )
    cust_off = mp(cust, "customer", "disconnected", t("09:00:00.000"), t("09:05:00.000", day=1), **inbound)
    old = [cust_off, acd_off, agent_off]
    customer2 = mp(cust2, "customer", "connected", t("11:00:00.000", day=4), **inbound)
    acd2_on = mp(acd2, "acd", "connected", t("11:00:00.050", day=4), queue=queue, **inbound)
    acd2_off = mp(
        acd2,
        "acd",
        "disconnected",
        t("11:00:00.050", day=4),
        t("11:02:00.000", day=4),
        queue=queue,
        **inbound,
    )
    agent2_on = mp(agent2, "agent", "connected", t("11:02:00.000", day=4), queue=queue, user=u, **inbound)
    end2 = t("11:10:00.000", day=4)
    agent2_off = mp(
        agent2, "agent", "disconnected", t("11:02:00.000", day=4), end2, queue=queue, user=u, **inbound
    )
    cust2_off = mp(cust2, "customer", "disconnected", t("11:00:00.000", day=4), end2, **inbound)
    steps = [
        ([customer, acd_on], t("09:00:00.150"), "waiting_in_queue"),
        ([customer, acd_off, agent_on], t("09:01:00.100"), "connected"),
        ([customer, acd_off, parked], t("09:10:00.100"), "parked"),
        ([customer, acd_off, agent_on], t("09:00:00.100", day=1), "connected"),
        (old, t("09:05:00.100", day=1), "ended"),
        ([*old, customer2, acd2_on], t("11:00:00.150", day=4), "waiting_in_queue"),
        ([*old, customer2, acd2_off, agent2_on], t("11:02:00.100", day=4), "connected"),
        ([*old, cust2_off, acd2_off, agent2_off], t("11:10:00.100", day=4), "ended"),
    ]
    for participants, received, status in steps:
        body = media_body("QueueConversation", "Email", c, participants)
        s.add(notification(queue_topic(q, ".emails"), body, received), c, status, q)
    s.final.append(
        row(
            c,
            "ended",
            t("11:10:00.100", day=4),
            last_queue_id=q,
            last_queue_name="Email Support",
            conversation_start=t("09:00:00.000"),
            conversation_end=end2,
            originating_direction="inbound",
            original_media_type="email",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[],
            last_event_at=t("11:10:00.100", day=4),
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


def chat_with_monitor() -> Scenario:
    s = Scenario(
        "sdk_chat_monitor",
        "users topic, chats: a supervisor monitors the agent (the chat media topic "
        "has no monitoredParticipantId); the chat ends while the monitor is still connected",
    )
    c, q, u, sup = uid("chat conversation"), uid("queue chat"), uid("user gina"), uid("user supervisor")
    cust, acd, agent, mon = (uid(f"chat {x}") for x in ("c", "a", "g", "m"))
    t = at
    end = t("09:10:00.000")

    def chat(pid: str, purpose: str, connected: str, ended: datetime | None = None, **more: Any) -> Any:
        # The generic chat communication has no direction field: originating_direction stays unknown.
        comm: dict[str, Any] = {
            "id": uid(f"chat comm {pid}"),
            "state": "connected",
            "connected_time": t(connected),
        }
        extra: dict[str, Any] = {}
        if ended is not None:
            comm.update(state="disconnected", disconnected_time=ended)
            extra["end_time"] = ended
        return gp(U, pid, purpose, "chats", [comm], connected_time=t(connected), **extra, **more)

    customer = chat(cust, "customer", "09:00:00.000")
    acd_on = chat(acd, "acd", "09:00:00.050", queue_id=q)
    acd_off = chat(acd, "acd", "09:00:00.050", t("09:00:30.000"), queue_id=q)
    agent_on = chat(agent, "agent", "09:00:30.000", queue_id=q, user_id=u)
    monitor = chat(mon, "user", "09:02:00.000", user_id=sup, monitored_participant_id=agent)
    agent_off = chat(agent, "agent", "09:00:30.000", end, queue_id=q, user_id=u)
    cust_off = chat(cust, "customer", "09:00:00.000", end)
    steps = [
        ([customer, acd_on], t("09:00:00.150"), "waiting_in_queue"),
        ([customer, acd_off, agent_on], t("09:00:30.100"), "connected"),
        ([customer, acd_off, agent_on, monitor], t("09:02:00.100"), "connected"),
        ([cust_off, acd_off, agent_off, monitor], t("09:10:00.100"), "ended"),
    ]
    for participants, received, status in steps:
        s.add(notification(user_topic(u), generic(U, c, participants), received), c, status, q)
    s.final.append(
        row(
            c,
            "ended",
            t("09:10:00.100"),
            last_queue_id=q,
            last_queue_name=None,
            conversation_start=t("09:00:00.000"),
            conversation_end=end,
            originating_direction=None,
            original_media_type="chat",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[DIV],
            last_event_at=t("09:10:00.100"),
            **COMMON,
        )
    )
    return s


def messaging() -> Scenario:
    s = Scenario("sdk_messaging", "queue .messages topic: web messaging, queue, agent, ended")
    c, q, u = uid("msg conversation"), uid("queue messaging"), uid("user hana")
    cust, acd, agent = (uid(f"msg {x}") for x in ("c", "a", "g"))
    queue = {"id": q, "name": "Messaging"}
    t = at
    inbound = {"direction": "inbound"}
    customer = mp(cust, "customer", "connected", t("11:00:00.000"), **inbound)
    acd_on = mp(acd, "acd", "connected", t("11:00:00.050"), queue=queue, **inbound)
    acd_off = mp(acd, "acd", "disconnected", t("11:00:00.050"), t("11:01:00.000"), queue=queue, **inbound)
    agent_on = mp(agent, "agent", "connected", t("11:01:00.000"), queue=queue, user=u, **inbound)
    end = t("11:20:00.000")
    agent_off = mp(agent, "agent", "disconnected", t("11:01:00.000"), end, queue=queue, user=u, **inbound)
    cust_off = mp(cust, "customer", "disconnected", t("11:00:00.000"), end, **inbound)
    steps = [
        ([customer, acd_on], t("11:00:00.150"), "waiting_in_queue"),
        ([customer, acd_off, agent_on], t("11:01:00.100"), "connected"),
        ([cust_off, acd_off, agent_off], t("11:20:00.100"), "ended"),
    ]
    for participants, received, status in steps:
        body = media_body("QueueConversation", "Message", c, participants)
        s.add(notification(queue_topic(q, ".messages"), body, received), c, status, q)
    s.final.append(
        row(
            c,
            "ended",
            t("11:20:00.100"),
            last_queue_id=q,
            last_queue_name="Messaging",
            conversation_start=t("11:00:00.000"),
            conversation_end=end,
            originating_direction="inbound",
            original_media_type="message",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[],
            last_event_at=t("11:20:00.100"),
            **COMMON,
        )
    )
    return s


# --------------------------------------------------------------------------------- detail and analytics

DELIVERY = timedelta(milliseconds=80)


def detail_only() -> Scenario:
    s = Scenario(
        "sdk_detail_only",
        "EventBridge detail events only: every kind convstream reads on one inbound "
        "call (customer, flow incl. outcome, acd, user, attributes, acw, wrapup)",
    )
    c, q, u = uid("detail conversation"), uid("queue detail"), uid("user ivan")
    cust, ivr, acd, agent = (uid(f"detail {x}") for x in ("c", "i", "a", "g"))
    cs, fs, as_, us = (uid(f"detail session {x}") for x in ("c", "i", "a", "g"))
    t = at
    voice = {"media_type": "VOICE", "direction": "INBOUND"}
    events = [
        (
            "customer.start",
            "10:00:00.000",
            {
                "participant_id": cust,
                "session_id": cs,
                "ani": "tel:+15551230000",
                "dnis": "tel:+15559990000",
                **voice,
            },
            "active",
            None,
        ),
        (
            "flow.start",
            "10:00:00.050",
            {
                "participant_id": ivr,
                "session_id": fs,
                "flow_type": "INBOUNDCALL",
                "flow_id": uid("flow main"),
                **voice,
            },
            "in_ivr",
            None,
        ),
        (
            "flow.outcome",
            "10:00:10.000",
            {
                "participant_id": ivr,
                "session_id": fs,
                "flow_id": uid("flow main"),
                "flow_outcome_id": uid("outcome lang"),
                "flow_outcome_value": "SUCCESS",
                "flow_type": "INBOUNDCALL",
            },
            "in_ivr",
            None,
        ),
        (
            "flow.end",
            "10:00:20.000",
            {
                "participant_id": ivr,
                "session_id": fs,
                "flow_type": "INBOUNDCALL",
                "disconnect_type": "TRANSFER",
                **voice,
            },
            "active",
            None,
        ),
        (
            "acd.start",
            "10:00:20.050",
            {"participant_id": acd, "session_id": as_, "queue_id": q, "division_id": DIV, **voice},
            "waiting_in_queue",
            q,
        ),
        (
            "user.start",
            "10:00:40.000",
            {"participant_id": agent, "session_id": us, "user_id": u, "queue_id": q, **voice},
            "alerting",
            q,
        ),
        (
            "acd.end",
            "10:00:45.000",
            {
                "participant_id": acd,
                "session_id": as_,
                "queue_id": q,
                "division_id": DIV,
                "acd_outcome": "ANSWERED",
                "answered_user_id": u,
                "disconnect_type": "TRANSFER",
                **voice,
            },
            "connected",
            q,
        ),
        (
            "attributes",
            "10:01:00.000",
            {"participant_id": cust, "attributes": {"crmId": "42"}},
            "connected",
            q,
        ),
        (
            "customer.end",
            "10:05:00.000",
            {"participant_id": cust, "session_id": cs, "disconnect_type": "PEER", **voice},
            "connected",
            q,
        ),
        (
            "user.end",
            "10:05:00.100",
            {
                "participant_id": agent,
                "session_id": us,
                "user_id": u,
                "queue_id": q,
                "disconnect_type": "CLIENT",
                **voice,
            },
            "ended",
            q,
        ),
        (
            "acw",
            "10:05:30.000",
            {
                "participant_id": agent,
                "session_id": us,
                "user_id": u,
                "queue_id": q,
                "wrapup_code": uid("wrapup resolved"),
                "wrapup_duration_ms": 29900,
                **voice,
            },
            "ended",
            q,
        ),
        (
            "wrapup",
            "10:05:30.000",
            {
                "participant_id": agent,
                "session_id": us,
                "queue_id": q,
                "wrapup_code": uid("wrapup resolved"),
                "wrapup_notes": "ok",
                **voice,
            },
            "ended",
            q,
        ),
    ]
    for kind, clock, fields, status, queue in events:
        s.add(detail(kind, c, t(clock), t(clock) + DELIVERY, **fields), c, status, queue)
    s.final.append(
        row(
            c,
            "ended",
            t("10:05:00.100"),
            last_queue_id=q,
            last_queue_name=None,
            conversation_start=t("10:00:00.000"),
            conversation_end=t("10:05:00.100"),
            originating_direction="inbound",
            original_media_type="voice",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[DIV],
            last_event_at=t("10:05:30.000"),
            **COMMON,
        )
    )
    return s


def segment(kind: str, start: str, end: str | None = None, **more: Any) -> Any:
    fields: dict[str, Any] = {"segment_type": kind, "segment_start": at(start), **more}
    if end is not None:
        fields["segment_end"] = at(end)
    return model("AnalyticsConversationSegment", **fields)


def session(sid: str, media: str, direction: str, segments: list[Any]) -> Any:
    return model("AnalyticsSession", session_id=sid, media_type=media, direction=direction, segments=segments)


def analytics_only() -> Scenario:
    s = Scenario(
        "sdk_analytics_only",
        "analytics records only: the same call in queue, then finished (IVR, "
        "queue, agent with hold, wrap-up segment); analytics facts win",
    )
    c, q, u = uid("an conversation"), uid("queue analytics"), uid("user judy")
    cust, ivr, acd, agent = (uid(f"an {x}") for x in ("c", "i", "a", "g"))
    ids = {x: uid(f"an session {x}") for x in ("c", "i", "a", "g")}

    def participant(pid: str, purpose: str, key: str, segments: list[Any], **more: Any) -> Any:
        return model(
            "AnalyticsParticipantWithoutAttributes",
            participant_id=pid,
            purpose=purpose,
            sessions=[session(ids[key], "voice", "inbound", segments)],
            **more,
        )

    ivr_p = participant(
        ivr, "ivr", "i", [segment("ivr", "10:00:00.000", "10:00:30.000", disconnect_type="transfer")]
    )
    waiting = [
        participant(cust, "customer", "c", [segment("interact", "10:00:00.000")]),
        ivr_p,
        participant(acd, "acd", "a", [segment("interact", "10:00:30.000", queue_id=q)]),
    ]
    finished = [
        participant(
            cust,
            "customer",
            "c",
            [segment("interact", "10:00:00.000", "10:06:00.000", disconnect_type="peer")],
        ),
        ivr_p,
        participant(
            acd,
            "acd",
            "a",
            [segment("interact", "10:00:30.000", "10:01:00.000", queue_id=q, disconnect_type="transfer")],
        ),
        participant(
            agent,
            "agent",
            "g",
            [
                segment("alert", "10:00:40.000", "10:01:00.000", queue_id=q),
                segment("interact", "10:01:00.000", "10:03:00.000", queue_id=q),
                segment("hold", "10:03:00.000", "10:04:00.000", queue_id=q),
                segment("interact", "10:04:00.000", "10:06:00.000", queue_id=q, disconnect_type="peer"),
                segment("wrapup", "10:06:00.000", "10:06:30.000", queue_id=q, wrap_up_code=uid("wrapup an")),
            ],
            user_id=u,
        ),
    ]
    facts = {
        "conversation_id": c,
        "conversation_start": at("10:00:00.000"),
        "originating_direction": "inbound",
        "division_ids": [DIV],
    }
    first = model("AnalyticsConversationWithoutAttributes", participants=waiting, **facts)
    s.add(analytics(first, at("10:00:45.000")), c, "waiting_in_queue", q)
    last = model(
        "AnalyticsConversationWithoutAttributes",
        participants=finished,
        conversation_end=at("10:06:00.000"),
        conversation_initiator="customer",
        customer_participation=True,
        self_served=False,
        media_stats_min_conversation_mos=4.38,
        media_stats_min_conversation_r_factor=88.2,
        **facts,
    )
    s.add(analytics(last, at("10:07:00.000")), c, "ended", q)
    s.final.append(
        row(
            c,
            "ended",
            at("10:07:00.000"),
            last_queue_id=q,
            last_queue_name=None,
            conversation_start=at("10:00:00.000"),
            conversation_end=at("10:06:00.000"),
            originating_direction="inbound",
            original_media_type="voice",
            conversation_initiator="customer",
            external_tag=None,
            self_served=False,
            customer_participation=True,
            division_ids=[DIV],
            last_event_at=at("10:07:00.000"),
        )
    )
    return s


SCENARIOS: list[Callable[[], Scenario]] = [
    ivr_queue_agent_hold_wrapup,
    transfer_between_queues,
    scheduled_callback,
    email_park_reopen,
    outbound_call,
    chat_with_monitor,
    messaging,
    detail_only,
    analytics_only,
]
