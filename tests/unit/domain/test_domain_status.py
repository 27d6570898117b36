"""The status decision table, one case per row, plus precedence, monitors, stickiness and pending facts."""

from __future__ import annotations

import pytest
from builders import T0, comm, det, fold_events, part, snap

from consumer.domain import STATUSES, ConversationEvent, fold

CUSTOMER = part("p-cust", "customer", comm("c-cust"))


@pytest.mark.parametrize(
    ("participants", "expected"),
    [
        pytest.param(
            (CUSTOMER, part("p-ag", "agent", comm("c-ag", held=False))), "connected", id="1-connected"
        ),
        pytest.param(
            (CUSTOMER, part("p-ag", "user", comm("c-ag"))), "connected", id="1-connected-user-purpose"
        ),
        pytest.param((CUSTOMER, part("p-ag", "agent", comm("c-ag", held=True))), "on_hold", id="2-held"),
        pytest.param(
            (CUSTOMER, part("p-ag", "agent", comm("c-ag", confined=True))), "on_hold", id="2-confined"
        ),
        pytest.param((CUSTOMER, part("p-ag", "agent", comm("c-ag", "parked"))), "parked", id="3-parked"),
        pytest.param(
            (CUSTOMER, part("p-ag", "agent", comm("c-ag", "alerting"))), "alerting", id="4-alerting"
        ),
        pytest.param(
            (CUSTOMER, part("p-ag", "agent", comm("c-ag", "offering"))), "alerting", id="4-offering"
        ),
        pytest.param((part("p-ag", "agent", comm("c-ag", "dialing")),), "dialing", id="5-agent-dialing"),
        pytest.param(
            (CUSTOMER, part("p-x", "external", comm("c-x", "contacting"))), "dialing", id="5-contacting"
        ),
        pytest.param(
            (CUSTOMER, part("p-acd", "acd", comm("c-cb", "scheduled", media_type="callback"))),
            "scheduled_callback",
            id="6-scheduled-callback",
        ),
        pytest.param(
            (CUSTOMER, part("p-acd", "acd", comm("c-acd"), queue_id="Q1")), "waiting_in_queue", id="7-acd"
        ),
        pytest.param((CUSTOMER, part("p-ivr", "ivr", comm("c-ivr"))), "in_ivr", id="8-ivr"),
        pytest.param((CUSTOMER, part("p-wf", "workflow", comm("c-wf"))), "in_ivr", id="8-workflow"),
        pytest.param((CUSTOMER, part("p-bot", "botflow", comm("c-bot"))), "in_ivr", id="8-botflow"),
        pytest.param(
            (
                part("p-cust", "customer", comm("c-cust", "disconnected"), end_time=T0),
                part("p-ag", "agent", comm("c-ag", "disconnected", acw_state="pending"), end_time=T0),
            ),
            "wrap_up",
            id="9-acw-pending",
        ),
        pytest.param(
            (part("p-ag", "agent", comm("c-ag", "disconnected"), end_time=T0, start_acw_time=T0),),
            "wrap_up",
            id="9-acw-started-not-ended",
        ),
        pytest.param(
            (part("p-ag", "agent", comm("c-ag", "disconnected"), end_time=T0, wrapup_required=True),),
            "wrap_up",
            id="9-wrapup-required-none-recorded",
        ),
        pytest.param((CUSTOMER, part("p-x", "external", comm("c-x"))), "active", id="10-customer-external"),
        pytest.param(
            (
                part("p-cust", "customer", comm("c-cust", "disconnected"), end_time=T0),
                part("p-ag", "agent", comm("c-ag", "terminated"), wrapup_required=True, wrapup_code="W1"),
            ),
            "ended",
            id="11-ended",
        ),
        pytest.param(
            (part("p-acd", "acd", comm("c-acd", "connected"), queue_id="Q1", end_time=T0),),
            "ended",
            id="11-participant-end-time-wins-over-connected-comm",
        ),
        pytest.param(
            (
                CUSTOMER,
                part("p-acd", "acd", comm("c-acd"), queue_id="Q1"),
                part("p-ag", "agent", comm("c-ag", held=False)),
            ),
            "connected",
            id="precedence-agent-connected-over-active-acd",
        ),
        pytest.param(
            (
                CUSTOMER,
                part("p-acd", "acd", comm("c-acd"), queue_id="Q1"),
                part("p-ag", "agent", comm("c-ag", held=True)),
            ),
            "on_hold",
            id="precedence-held-over-active-acd",
        ),
        pytest.param(
            (
                CUSTOMER,
                part("p-ivr", "ivr", comm("c-ivr")),
                part("p-acd", "acd", comm("c-acd"), queue_id="Q1"),
            ),
            "waiting_in_queue",
            id="precedence-acd-over-ivr",
        ),
        pytest.param(
            (
                CUSTOMER,
                part("p-ag1", "agent", comm("c1", held=True)),
                part("p-ag2", "agent", comm("c2", "alerting")),
            ),
            "on_hold",
            id="precedence-held-over-second-agent-alerting",
        ),
        pytest.param(
            (
                CUSTOMER,
                part("p-acd", "acd", comm("c-acd"), queue_id="Q1"),
                part("p-mon", "agent", comm("c-mon"), monitored_participant_id="p-ag"),
            ),
            "waiting_in_queue",
            id="monitor-ignored",
        ),
        pytest.param(
            (CUSTOMER, part("p-coach", "agent", comm("c-co"), coached_participant_id="p-ag")),
            "active",
            id="coach-ignored",
        ),
        pytest.param(
            (CUSTOMER, part("p-barge", "agent", comm("c-b"), barged_participant_id="p-ag")),
            "active",
            id="barge-ignored",
        ),
    ],
)
def test_decision_table(participants: tuple, expected: str) -> None:
    assert fold_events(snap(10, *participants)).calculated_status == expected


def test_every_status_is_covered_by_the_table() -> None:
    ids = {p.id.split("-", 1)[0] for p in test_decision_table.pytestmark[0].args[1]}  # type: ignore[attr-defined]
    assert {str(n) for n in range(1, len(STATUSES) + 1)} <= ids


def test_no_participant_no_status() -> None:
    state = fold_events(snap(0, external_tag="x"))
    assert state.calculated_status is None
    assert state.status_changed_at is None


def test_wrap_up_ends_when_wrapup_recorded_or_acw_event() -> None:
    agent_done = part("p-ag", "agent", comm("c-ag", "disconnected"), end_time=T0, wrapup_required=True)
    assert fold_events(snap(1, agent_done)).calculated_status == "wrap_up"
    assert (
        fold_events(snap(1, agent_done), det(2, "acw", "p-ag", "c-ag", wrapup_code="W1")).calculated_status
        == "ended"
    )
    assert fold_events(snap(1, agent_done), det(2, "wrapup", "p-ag")).calculated_status == "ended"


def test_stale_connected_snapshot_does_not_revive_a_disconnected_communication() -> None:
    first = snap(10, CUSTOMER, part("p-ag", "agent", comm("c-ag", "disconnected")))
    stale = snap(5, CUSTOMER, part("p-ag", "agent", comm("c-ag", "connected")))
    later_connected = snap(20, part("p-ag", "agent", comm("c-ag", "connected")))
    assert fold_events(first, stale).calculated_status == "active"
    assert fold_events(stale, first).calculated_status == "active"
    # terminal is sticky even against a later key
    assert fold_events(first, later_connected).calculated_status == "active"


def test_participant_with_end_time_never_active_again() -> None:
    ended = snap(10, part("p-acd", "acd", comm("c-acd", "disconnected"), queue_id="Q1", end_time=T0 + 10))
    revived = snap(30, part("p-acd", "acd", comm("c-acd2", "connected"), queue_id="Q1"))
    assert fold_events(ended, revived).calculated_status == "ended"


def test_reopen_after_ended_leaves_ended() -> None:
    ended = snap(
        10,
        part("p-cust", "customer", comm("e1", "disconnected", media_type="email"), end_time=T0 + 10),
        part("p-ag", "agent", comm("e2", "disconnected", media_type="email"), end_time=T0 + 10),
    )
    state = fold_events(ended)
    assert state.calculated_status == "ended"
    reopened = fold(
        state,
        snap(
            100,
            part("p-cust2", "customer", comm("e3", media_type="email")),
            part("p-acd2", "acd", comm("e4", media_type="email"), queue_id="Q2"),
        ),
    )
    assert reopened.calculated_status == "waiting_in_queue"
    assert reopened.status_changed_at == T0 + 100


def _answered_flow() -> tuple[ConversationEvent, ...]:
    return (
        det(0, "customer.start", "p-cust", "s-cust", media_type="voice", direction="inbound"),
        det(1, "acd.start", "p-acd", "s-acd", queue_id="Q1"),
        det(5, "acd.end", "p-acd", "s-acd", queue_id="Q1", acd_outcome="answered", answered_user_id="U1"),
        det(4, "user.start", "p-ag", "s-ag", user_id="U1", queue_id="Q1"),
    )


def test_acd_end_answered_before_user_start_is_kept_pending() -> None:
    cust, acd_start, acd_end, user_start = _answered_flow()
    pending = fold_events(cust, acd_start, acd_end)
    assert pending.calculated_status == "active"  # customer alone: no ghost agent participant
    assert set(pending.participants) == {"p-cust", "p-acd"}
    assert pending.answered == {"U1": acd_end.order_key}
    assert fold(pending, user_start).calculated_status == "connected"


def test_acd_end_answered_after_user_start() -> None:
    cust, acd_start, acd_end, user_start = _answered_flow()
    alerting = fold_events(cust, acd_start, user_start)
    assert alerting.calculated_status == "alerting"
    assert fold(alerting, acd_end).calculated_status == "connected"


def test_answered_fact_does_not_override_a_later_agent_state() -> None:
    cust, acd_start, acd_end, user_start = _answered_flow()
    later = det(9, "user.end", "p-ag", "s-ag", user_id="U1")
    assert fold_events(cust, acd_start, user_start, later, acd_end).calculated_status == "active"


def test_detail_event_lifecycle() -> None:
    events = [
        det(0, "customer.start", "p-cust", "s-cust", media_type="voice", direction="inbound"),
        det(1, "flow.start", "p-ivr", "s-ivr", flow_type="inboundcall"),
        det(9, "flow.end", "p-ivr", "s-ivr", flow_type="inboundcall"),
        det(10, "acd.start", "p-acd", "s-acd", queue_id="Q1"),
        det(15, "user.start", "p-ag", "s-ag", user_id="U1", queue_id="Q1"),
        det(20, "acd.end", "p-acd", "s-acd", queue_id="Q1", acd_outcome="answered", answered_user_id="U1"),
        det(60, "user.end", "p-ag", "s-ag", user_id="U1"),
        det(61, "customer.end", "p-cust", "s-cust"),
        det(70, "acw", "p-ag", "s-ag", user_id="U1", wrapup_code="W1"),
    ]
    expected = [
        "active",
        "in_ivr",
        "active",
        "waiting_in_queue",
        "alerting",
        "connected",
        "active",
        "ended",
        "ended",
    ]
    state = None
    seen = []
    for e in events:
        state = fold(state, e)
        seen.append(state.calculated_status)
    assert seen == expected
    assert state is not None
    assert state.participants["p-ivr"].purpose == "ivr"


@pytest.mark.parametrize(
    ("flow_type", "purpose"),
    [
        (None, "ivr"),
        ("inboundcall", "ivr"),
        ("workflow", "workflow"),
        ("bot", "botflow"),
        ("digitalbot", "botflow"),
        ("voicesurvey", "voicesurveyflow"),
        ("WORKFLOW", "workflow"),
    ],
)
def test_flow_purpose_from_flow_type(flow_type: str | None, purpose: str) -> None:
    state = fold_events(det(0, "flow.start", "p-f", "s-f", flow_type=flow_type))
    assert state.participants["p-f"].purpose == purpose
    assert state.calculated_status == "in_ivr"


def test_voicemail_participant_is_active() -> None:
    state = fold_events(det(0, "voicemail.start", "p-vm", "s-vm", user_id="U1"))
    assert state.participants["p-vm"].purpose == "voicemail"
    assert state.calculated_status == "active"
    assert fold(state, det(5, "voicemail.end", "p-vm", "s-vm")).calculated_status == "ended"


def test_abandon_ends_the_conversation() -> None:
    state = fold_events(
        det(0, "customer.start", "p-cust", "s-cust"),
        det(1, "acd.start", "p-acd", "s-acd", queue_id="Q1"),
        det(30, "acd.end", "p-acd", "s-acd", queue_id="Q1", acd_outcome="abandon"),
        det(30, "customer.end", "p-cust", "s-cust"),
    )
    assert state.calculated_status == "ended"
    assert state.answered == {}


def test_status_changed_at_is_event_time_of_the_change() -> None:
    e1 = snap(10, CUSTOMER, part("p-acd", "acd", comm("c-acd"), queue_id="Q1"))
    e2 = snap(20, CUSTOMER, part("p-acd", "acd", comm("c-acd"), queue_id="Q1"), external_tag="x")
    e3 = snap(30, CUSTOMER, part("p-ag", "agent", comm("c-ag")))
    state = fold_events(e1)
    assert state.status_changed_at == T0 + 10
    state = fold(state, e2)
    assert (state.calculated_status, state.status_changed_at) == ("waiting_in_queue", T0 + 10)
    state = fold(state, e3)
    assert (state.calculated_status, state.status_changed_at) == ("connected", T0 + 30)


def test_absent_fields_are_unknown_not_cleared() -> None:
    with_queue = snap(
        10, part("p-acd", "acd", comm("c-acd", media_type="voice"), queue_id="Q1"), external_tag="t"
    )
    without = snap(20, part("p-acd", "acd", comm("c-acd")))
    state = fold_events(with_queue, without)
    assert state.participants["p-acd"].queue_id == "Q1"
    assert state.participants["p-acd"].communications["c-acd"].media_type == "voice"
    assert state.fact("external_tag") == "t"


def test_older_event_does_not_overwrite_newer_field() -> None:
    new = snap(20, part("p-ag", "agent", comm("c-ag", held=True)))
    old = snap(10, part("p-ag", "agent", comm("c-ag", held=False), queue_id="Q9"))
    state = fold_events(new, old)
    assert state.calculated_status == "on_hold"
    assert state.participants["p-ag"].queue_id == "Q9"  # unknown before, so the older value is taken


def test_fold_rejects_an_event_of_another_conversation() -> None:
    state = fold_events(snap(0, CUSTOMER))
    with pytest.raises(ValueError, match="conv-2"):
        fold(state, snap(1, CUSTOMER, cid="conv-2"))
