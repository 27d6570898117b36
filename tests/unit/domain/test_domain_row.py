"""The last-queue rule and the derived columns, and with_error."""

from __future__ import annotations

from dataclasses import fields

import pytest
from builders import T0, comm, det, fold_events, part, snap

from consumer.domain import ConversationRow, derive_row, fold, with_error

CUST = part("p-cust", "customer", comm("c-cust", direction="inbound", media_type="voice"), connected_time=T0)


def _queue(*participants: object, names: dict[str, str] | None = None) -> tuple[str | None, str | None]:
    row = derive_row(fold_events(snap(100, *participants)), names)  # type: ignore[arg-type]
    return row.last_queue_id, row.last_queue_name


def test_row_has_exactly_the_conversation_table_columns() -> None:
    assert [f.name for f in fields(ConversationRow)] == [
        "conversation_id",
        "conversation_start",
        "conversation_end",
        "originating_direction",
        "original_media_type",
        "conversation_initiator",
        "calculated_status",
        "status_changed_at",
        "last_queue_id",
        "last_queue_name",
        "external_tag",
        "division_ids",
        "customer_participation",
        "self_served",
        "media_stats_min_conversation_mos",
        "media_stats_min_conversation_rfactor",
        "error_message",
        "last_event_at",
        "logic_version",
    ]


def test_active_acd_is_preferred_over_a_later_ended_one() -> None:
    ended = part(
        "p-a1", "acd", comm("a1", "disconnected"), queue_id="Q1", connected_time=T0 + 50, end_time=T0 + 90
    )
    active = part("p-a2", "acd", comm("a2"), queue_id="Q2", connected_time=T0 + 10)
    assert _queue(CUST, ended, active) == ("Q2", None)


def test_latest_active_acd_by_connected_time() -> None:
    a = part("p-a1", "acd", comm("a1"), queue_id="Q1", connected_time=T0 + 50)
    b = part("p-a2", "acd", comm("a2"), queue_id="Q2", connected_time=T0 + 10)
    assert _queue(CUST, a, b) == ("Q1", None)


def test_latest_end_time_when_none_active() -> None:
    a = part("p-a1", "acd", comm("a1", "disconnected"), queue_id="Q1", connected_time=T0, end_time=T0 + 20)
    b = part(
        "p-a2", "acd", comm("a2", "disconnected"), queue_id="Q2", connected_time=T0 + 1, end_time=T0 + 10
    )
    assert _queue(CUST, a, b) == ("Q1", None)


def test_end_time_ties_break_on_connected_time_then_participant_id() -> None:
    a = part(
        "p-a1", "acd", comm("a1", "disconnected"), queue_id="Q1", connected_time=T0 + 5, end_time=T0 + 20
    )
    b = part(
        "p-a2", "acd", comm("a2", "disconnected"), queue_id="Q2", connected_time=T0 + 1, end_time=T0 + 20
    )
    assert _queue(CUST, a, b) == ("Q1", None)
    c = part(
        "p-a3", "acd", comm("a3", "disconnected"), queue_id="Q3", connected_time=T0 + 5, end_time=T0 + 20
    )
    assert _queue(CUST, a, b, c) == ("Q3", None)


def test_monitor_and_queueless_acd_participants_are_ignored() -> None:
    real = part("p-a1", "acd", comm("a1", "disconnected"), queue_id="Q1", end_time=T0 + 5)
    mon = part("p-m", "acd", comm("m1"), queue_id="QM", monitored_participant_id="p-a1")
    queueless = part("p-a2", "acd", comm("a2"))
    assert _queue(CUST, real, mon, queueless) == ("Q1", None)


def test_agent_fallback_when_no_acd() -> None:
    a = part("p-ag1", "agent", comm("g1", "disconnected"), queue_id="Q1", connected_time=T0, end_time=T0 + 5)
    b = part("p-ag2", "agent", comm("g2"), queue_id="Q2", connected_time=T0 + 9)
    assert _queue(CUST, a, b) == ("Q2", None)
    assert _queue(CUST) == (None, None)


def test_queue_name_from_event_then_directory() -> None:
    acd = part("p-a1", "acd", comm("a1"), queue_id="Q1")
    assert _queue(CUST, acd, names={"Q1": "Billing"}) == ("Q1", "Billing")
    named = part("p-a1", "acd", comm("a1"), queue_id="Q1", queue_name="Billing (event)")
    assert _queue(CUST, named, names={"Q1": "Billing"}) == ("Q1", "Billing (event)")
    assert _queue(CUST, acd, names={}) == ("Q1", None)


def test_last_queue_from_detail_events() -> None:
    state = fold_events(
        det(0, "acd.start", "p-a1", "s1", queue_id="Q1"),
        det(10, "acd.end", "p-a1", "s1", queue_id="Q1", acd_outcome="flow_out"),
        det(11, "acd.start", "p-a2", "s2", queue_id="Q2"),
    )
    assert derive_row(state).last_queue_id == "Q2"
    state = fold(state, det(20, "acd.end", "p-a2", "s2", queue_id="Q2", acd_outcome="abandon"))
    assert derive_row(state).last_queue_id == "Q2"


def test_derived_columns_of_an_ended_inbound_call() -> None:
    ivr = part(
        "p-ivr",
        "ivr",
        comm("c-ivr", "disconnected", media_type="voice"),
        connected_time=T0 + 1,
        end_time=T0 + 30,
    )
    cust_end = part(
        "p-cust",
        "customer",
        comm("c-cust", "disconnected", direction="inbound", media_type="voice"),
        connected_time=T0,
        end_time=T0 + 31,
    )
    state = fold_events(
        snap(5, CUST, ivr, division_ids=("D2",), external_tag="ext"),
        snap(40, cust_end, ivr, division_ids=("D1", "D2")),
    )
    row = derive_row(state)
    assert row.calculated_status == "ended"
    assert row.conversation_start == T0
    assert row.conversation_end == T0 + 31
    assert row.originating_direction == "inbound"
    assert row.original_media_type == "voice"
    assert row.conversation_initiator == "customer"
    assert row.external_tag == "ext"
    assert row.division_ids == ("D1", "D2")
    assert row.self_served is True
    assert row.customer_participation is None
    assert row.last_event_at == T0 + 40
    assert row.status_changed_at == T0 + 40


def test_not_self_served_when_an_agent_took_part_and_unknown_while_open() -> None:
    ivr = part("p-ivr", "ivr", comm("c-ivr", "disconnected"), end_time=T0 + 3)
    agent = part("p-ag", "agent", comm("c-ag", "disconnected"), end_time=T0 + 9)
    assert derive_row(fold_events(snap(10, ivr, agent))).self_served is False
    assert derive_row(fold_events(snap(10, CUST, ivr))).self_served is None


def test_open_conversation_has_no_end_and_reopen_clears_it() -> None:
    ended = snap(
        10, part("p-cust", "customer", comm("e1", "disconnected", media_type="email"), end_time=T0 + 10)
    )
    state = fold_events(ended)
    assert derive_row(state).conversation_end == T0 + 10
    state = fold(state, snap(99, part("p-cust2", "customer", comm("e2", media_type="email"))))
    assert derive_row(state).conversation_end is None


def test_start_falls_back_to_first_event_time_and_direction_to_any_communication() -> None:
    state = fold_events(
        snap(7, part("p-ag", "agent", comm("c-ag", "dialing", direction="outbound"))),
        snap(3, part("p-x", "external", comm("c-x", "contacting"))),
    )
    row = derive_row(state)
    assert row.conversation_start == T0 + 3
    assert row.originating_direction == "outbound"


def test_analytics_facts_take_precedence() -> None:
    state = fold_events(
        snap(1, CUST, part("p-ivr", "ivr", comm("c-ivr", "disconnected"), end_time=T0 + 1)),
        snap(
            2,
            originating_direction="outbound",
            conversation_initiator="agent",
            customer_participation=True,
            self_served=False,
            media_stats_min_conversation_mos=4.2,
            media_stats_min_conversation_rfactor=88.5,
            conversation_start=T0 - 5,
        ),
    )
    row = derive_row(state)
    assert (row.originating_direction, row.conversation_initiator) == ("outbound", "agent")
    assert (row.customer_participation, row.self_served) == (True, False)
    assert (row.media_stats_min_conversation_mos, row.media_stats_min_conversation_rfactor) == (4.2, 88.5)


def test_outbound_and_attributes_details() -> None:
    state = fold_events(
        det(0, "outbound", outbound_campaign_id="C1", outbound_contact_id="K1", division_id="D9"),
        det(1, "attributes", "p-cust", attributes={"a": "1"}),
        det(2, "attributes", "p-cust", attributes={"a": "2", "b": "3"}),
        det(1, "attributes", "p-cust", attributes={"a": "old"}),
    )
    assert state.fact("outbound_campaign_id") == "C1"
    assert {k: v for k, (v, _) in state.participants["p-cust"].attributes.items()} == {"a": "2", "b": "3"}
    assert state.division_ids == ("D9",)


def test_with_error_records_the_latest_error() -> None:
    state = with_error(None, "conv-1", "boom", T0 + 5)
    assert (state.error_message, state.error_at, state.calculated_status) == ("boom", T0 + 5, None)
    state = with_error(state, "conv-1", "older", T0 + 1)
    assert state.error_message == "boom"
    state = fold(with_error(state, "conv-1", "newer", T0 + 9), snap(3, CUST))
    assert derive_row(state).error_message == "newer"
    with pytest.raises(ValueError, match="conv-2"):
        with_error(state, "conv-2", "x", 0)
