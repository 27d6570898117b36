"""The Genesys-fidelity issue's defects 4-5 as SDK-built golden streams (see :mod:`sdk_corpus`).

They need that issue's fold fixes. Conventions: :mod:`sdk_corpus_builders`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sdk_corpus import Scenario, analytics, at, model, notification, row, uid
from sdk_corpus_builders import (
    COMMON,
    U,
    generic,
    gp,
    media_body,
    mp,
    queue_topic,
    segment,
    session,
    user_topic,
)


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
                sessions=[session(uid("d5a as"), "voice", "outbound", agent_segments)],
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
            session(
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


SCENARIOS: list[Callable[[], Scenario]] = [
    d4_initiator_tie,
    d5_analytics_outbound_start,
    d5_callback_voice_leg,
]
