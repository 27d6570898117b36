"""Callback and email scenarios of :mod:`sdk_corpus` (conventions: :mod:`sdk_corpus_builders`)."""

from __future__ import annotations

from collections.abc import Callable

from sdk_corpus import Scenario, at, detail, notification, row, uid
from sdk_corpus_builders import (
    COMMON,
    DELIVERY,
    media_body,
    mp,
    queue_topic,
)


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


def detail_campaign_and_voicemail() -> Scenario:
    s = Scenario(
        "sdk_detail_campaign_voicemail",
        "the detail kinds sdk_detail_only does not use: outbound (campaign facts, delivered after the "
        "customer leg but timed before it; no participant of its own), voicemail.start/end (a voicemail "
        "participant is active, not an agent)",
    )
    camp, vm = uid("campaign conversation"), uid("voicemail conversation")
    cust, cs, vcust, vcs, box, bs = (uid(f"dv {x}") for x in ("c", "cs", "vc", "vcs", "box", "bs"))
    outbound = {"media_type": "VOICE", "direction": "OUTBOUND"}
    inbound = {"media_type": "VOICE", "direction": "INBOUND"}
    campaign = {
        "outbound_campaign_id": uid("campaign"),
        "outbound_contact_list_id": uid("list"),
        "outbound_contact_id": uid("contact"),
    }
    events = [
        (
            camp,
            "customer.start",
            "13:00:05.000",
            {"participant_id": cust, "session_id": cs, **outbound},
            "active",
        ),
        (
            camp,
            "outbound",
            "13:00:00.000",
            {"participant_id": cust, "session_id": cs, **campaign, **outbound},
            "active",  # campaign facts only: the customer leg decides
        ),
        (
            camp,
            "customer.end",
            "13:01:00.000",
            {"participant_id": cust, "session_id": cs, **outbound},
            "ended",
        ),
        (
            vm,
            "customer.start",
            "14:00:00.000",
            {"participant_id": vcust, "session_id": vcs, **inbound},
            "active",
        ),
        (
            vm,
            "voicemail.start",
            "14:00:20.000",
            {"participant_id": box, "session_id": bs, **inbound},
            "active",
        ),
        (
            vm,
            "voicemail.end",
            "14:01:00.000",
            {"participant_id": box, "session_id": bs, "voicemail_duration_ms": 40000, **inbound},
            "active",
        ),
        (
            vm,
            "customer.end",
            "14:01:00.100",
            {"participant_id": vcust, "session_id": vcs, "disconnect_type": "PEER", **inbound},
            "ended",
        ),
    ]
    for conversation, kind, clock, fields, status in events:
        s.add(
            detail(kind, conversation, at(clock), at(clock) + DELIVERY, **fields), conversation, status, None
        )
    for conversation, start, end, direction in (
        (camp, "13:00:05.000", "13:01:00.000", "outbound"),
        (vm, "14:00:00.000", "14:01:00.100", "inbound"),
    ):
        s.final.append(
            row(
                conversation,
                "ended",
                at(end),
                last_queue_id=None,
                last_queue_name=None,
                conversation_start=at(start),
                conversation_end=at(end),
                originating_direction=direction,
                original_media_type="voice",
                conversation_initiator="customer",
                self_served=False,
                division_ids=[],
                last_event_at=at(end),
                **COMMON,
            )
        )
    return s


SCENARIOS: list[Callable[[], Scenario]] = [
    scheduled_callback,
    email_park_reopen,
    detail_campaign_and_voicemail,
]
