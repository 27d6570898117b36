"""Hypothesis strategies: realistic Genesys conversations as domain events, plus noisy ones.

A *scenario* simulates one conversation's records over time (inbound voice IVR -> queue -> agent -> ACW,
abandons, blind transfers between queues, email park and re-open, callbacks, outbound dialing, an agent
placing a call with after-call work skipped or done), and
emits, at each step, a whole-conversation snapshot and/or the detail events Genesys would send. All
events have distinct ``(event_time, event_id)``. Hypothesis chooses the scenario, its timings, which
events were delivered, and may add arbitrary partial events over the same ids (the fold must converge for
*any* set of events, not only realistic ones).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from hypothesis import strategies as st

from consumer.domain import (
    Communication,
    ConversationEvent,
    ConversationSnapshot,
    DetailEvent,
    Participant,
)

__all__ = ["Timeline", "any_event_sets", "conversations", "noise_events"]

T0 = 1_735_725_600_000
CID = "conv-1"
STATES = ("alerting", "connected", "disconnected", "terminated", "dialing", "parked", "scheduled", "offering")
PURPOSES = ("customer", "ivr", "acd", "agent", "user", "external", "workflow", "voicemail")
DETAIL_KINDS = (
    "customer.start",
    "customer.end",
    "flow.start",
    "flow.end",
    "acd.start",
    "acd.end",
    "user.start",
    "user.end",
    "acw",
    "wrapup",
    "attributes",
    "outbound",
    "voicemail.start",
    "voicemail.end",
)


def make_event(n: int, t: int, body: ConversationSnapshot | DetailEvent, cid: str = CID) -> ConversationEvent:
    """An event with a deterministic, distinct id (``n`` is unique within a generated set)."""
    event_id = hashlib.sha256(f"{cid}/{n}/{t}".encode()).hexdigest()
    topic = "v2.routing.queues.Q1.conversations" if isinstance(body, ConversationSnapshot) else "detail"
    return ConversationEvent(
        event_id=event_id,
        conversation_id=cid,
        event_time=t,
        received_at=t + 3,
        source="simulator",
        topic_name=topic,
        topic_pattern=topic,
        body=body,
    )


@dataclass
class Timeline:
    """Mutable builder of one conversation: current participants plus the events emitted so far."""

    t: int = T0
    participants: dict[str, Participant] = field(default_factory=dict)
    events: list[ConversationEvent] = field(default_factory=list)
    snapshots: bool = True
    details: bool = True

    def emit_detail(self, kind: str, pid: str, sid: str, **kw: object) -> None:
        if self.details:
            body = DetailEvent(kind=kind, participant_id=pid, session_id=sid, media_type="voice", **kw)  # type: ignore[arg-type]
            self.events.append(make_event(len(self.events), self.t, body))

    def snapshot(self) -> None:
        if self.snapshots:
            body = ConversationSnapshot(participants=tuple(self.participants.values()), division_ids=("D1",))
            self.events.append(make_event(len(self.events), self.t, body))

    def put(self, p: Participant) -> None:
        self.participants[p.id] = p

    def join(self, pid: str, purpose: str, state: str, media: str = "voice", **kw: object) -> None:
        comm = Communication(
            id=f"s-{pid}",
            media_type=media,
            state=state,
            direction="inbound",
            connected_time=self.t if state == "connected" else None,
        )
        self.put(Participant(id=pid, purpose=purpose, connected_time=self.t, communications=(comm,), **kw))  # type: ignore[arg-type]

    def set_state(self, pid: str, state: str, **comm_kw: object) -> None:
        p = self.participants[pid]
        comm = replace(p.communications[0], state=state, **comm_kw)  # type: ignore[arg-type]
        end = self.t if state in ("disconnected", "terminated") else None
        self.put(replace(p, communications=(comm,), end_time=end if end is not None else p.end_time))

    def advance(self, dt: int) -> None:
        self.t += dt


def _inbound_voice(tl: Timeline, *, abandon: bool, transfer: bool, acw_detail: bool) -> None:
    tl.join("p-cust", "customer", "connected")
    tl.emit_detail("customer.start", "p-cust", "s-p-cust", direction="inbound")
    tl.join("p-ivr", "ivr", "connected")
    tl.emit_detail("flow.start", "p-ivr", "s-p-ivr", flow_type="inboundcall")
    tl.snapshot()
    tl.advance(5_000)
    tl.set_state("p-ivr", "disconnected", disconnected_time=tl.t)
    tl.emit_detail("flow.end", "p-ivr", "s-p-ivr", flow_type="inboundcall")
    tl.join("p-acd", "acd", "connected", queue_id="Q1", queue_name="Billing")
    tl.emit_detail("acd.start", "p-acd", "s-p-acd", queue_id="Q1")
    tl.snapshot()
    tl.advance(7_000)
    if abandon:
        _end_all(tl, acd_outcome="abandon")
        return
    tl.join("p-ag1", "agent", "alerting", user_id="U1", queue_id="Q1", wrapup_required=True)
    tl.emit_detail("user.start", "p-ag1", "s-p-ag1", user_id="U1", queue_id="Q1")
    tl.snapshot()
    tl.advance(3_000)
    tl.set_state("p-acd", "disconnected", disconnected_time=tl.t)
    tl.emit_detail(
        "acd.end", "p-acd", "s-p-acd", queue_id="Q1", acd_outcome="answered", answered_user_id="U1"
    )
    tl.set_state("p-ag1", "connected", held=False, connected_time=tl.t)
    tl.snapshot()
    tl.advance(20_000)
    tl.set_state("p-ag1", "connected", held=True)
    tl.snapshot()
    tl.advance(10_000)
    tl.set_state("p-ag1", "connected", held=False)
    if transfer:
        _transfer(tl)
    _agent_leaves(tl, "p-ag1", "U1", acw_detail=acw_detail)
    _end_all(tl)


def _transfer(tl: Timeline) -> None:
    """Blind transfer to queue Q2, answered by U2 (who leaves later in _end_all)."""
    tl.advance(1_000)
    tl.set_state("p-ag1", "disconnected", disconnected_time=tl.t, disconnect_type="transfer")
    tl.emit_detail("user.end", "p-ag1", "s-p-ag1", user_id="U1", queue_id="Q1")
    tl.join("p-acd2", "acd", "connected", queue_id="Q2")
    tl.emit_detail("acd.start", "p-acd2", "s-p-acd2", queue_id="Q2")
    tl.snapshot()
    tl.advance(4_000)
    tl.join("p-ag2", "agent", "alerting", user_id="U2", queue_id="Q2")
    tl.emit_detail("user.start", "p-ag2", "s-p-ag2", user_id="U2", queue_id="Q2")
    tl.advance(2_000)
    tl.set_state("p-acd2", "disconnected", disconnected_time=tl.t)
    tl.emit_detail(
        "acd.end", "p-acd2", "s-p-acd2", queue_id="Q2", acd_outcome="answered", answered_user_id="U2"
    )
    tl.set_state("p-ag2", "connected", held=False)
    tl.snapshot()
    tl.advance(15_000)
    _agent_leaves(tl, "p-ag2", "U2", acw_detail=True)


def _agent_leaves(tl: Timeline, pid: str, user: str, *, acw_detail: bool) -> None:
    if tl.participants[pid].end_time is None:
        tl.advance(1_000)
        tl.set_state(pid, "disconnected", disconnected_time=tl.t, acw_state="pending", acw_start_time=tl.t)
        tl.emit_detail("user.end", pid, f"s-{pid}", user_id=user)
        tl.snapshot()
    tl.advance(8_000)
    p = tl.participants[pid]
    comm = replace(p.communications[0], acw_state="complete", acw_end_time=tl.t)
    tl.put(replace(p, wrapup_code="WC1", communications=(comm,)))
    if acw_detail:
        tl.emit_detail("acw", pid, f"s-{pid}", user_id=user, wrapup_code="WC1", wrapup_duration_ms=8000)
    tl.snapshot()


def _end_all(tl: Timeline, acd_outcome: str | None = None) -> None:
    tl.advance(500)
    for pid, p in list(tl.participants.items()):
        if p.end_time is None:
            tl.set_state(pid, "disconnected", disconnected_time=tl.t)
            kind = {"customer": "customer.end", "acd": "acd.end", "ivr": "flow.end"}.get(p.purpose or "")
            if kind:
                tl.emit_detail(kind, pid, f"s-{pid}", acd_outcome=acd_outcome if kind == "acd.end" else None)
    tl.snapshot()


def _email_reopen(tl: Timeline, *, reopen: bool) -> None:
    tl.join("p-cust", "customer", "connected", media="email")
    tl.join("p-acd", "acd", "connected", media="email", queue_id="QE")
    tl.snapshot()
    tl.advance(60_000)
    tl.set_state("p-acd", "disconnected", disconnected_time=tl.t)
    tl.join("p-ag1", "agent", "connected", media="email", user_id="U1", queue_id="QE")
    tl.snapshot()
    tl.advance(30_000)
    tl.set_state("p-ag1", "parked", park_time=tl.t)
    tl.snapshot()
    tl.advance(30_000)
    tl.set_state("p-ag1", "connected")
    tl.snapshot()
    tl.advance(5_000)
    tl.set_state("p-ag1", "disconnected", disconnected_time=tl.t)
    tl.set_state("p-cust", "disconnected", disconnected_time=tl.t)
    tl.snapshot()
    if reopen:
        tl.advance(86_400_000)
        tl.join("p-cust2", "customer", "connected", media="email")
        tl.join("p-acd3", "acd", "connected", media="email", queue_id="QE2")
        tl.snapshot()


def _callback_and_outbound(tl: Timeline) -> None:
    tl.join("p-cust", "customer", "connected", media="callback")
    tl.join("p-acd", "acd", "scheduled", media="callback", queue_id="QC")
    tl.snapshot()
    tl.advance(1_000)
    tl.set_state("p-acd", "disconnected", disconnected_time=tl.t)
    tl.join("p-ag1", "agent", "dialing", media="callback", user_id="U3", queue_id="QC")
    tl.snapshot()
    tl.advance(1_000)
    tl.set_state("p-ag1", "connected")
    if tl.details:
        tl.events.append(
            make_event(len(tl.events), tl.t, DetailEvent(kind="outbound", outbound_campaign_id="C1"))
        )
    tl.snapshot()
    _end_all(tl)


def _agent_dials(tl: Timeline, *, skip_acw: bool) -> None:
    """An agent places a call (no ACD leg): dialing, the callee answers, both leave, ACW skipped or done."""
    dial = Communication(id="s-p-ag1", media_type="voice", state="dialing", direction="outbound")
    tl.put(
        Participant(id="p-ag1", purpose="agent", user_id="U1", wrapup_required=True, communications=(dial,))
    )
    ring = Communication(id="s-p-cust", media_type="voice", state="contacting", direction="outbound")
    tl.put(Participant(id="p-cust", purpose="customer", communications=(ring,)))
    tl.emit_detail("user.start", "p-ag1", "s-p-ag1", user_id="U1", direction="outbound")
    tl.snapshot()
    tl.advance(6_000)
    tl.set_state("p-cust", "connected", connected_time=tl.t)
    tl.put(replace(tl.participants["p-cust"], connected_time=tl.t))
    tl.set_state("p-ag1", "connected", connected_time=tl.t)
    tl.emit_detail("customer.start", "p-cust", "s-p-cust", direction="outbound")
    tl.snapshot()
    tl.advance(30_000)
    tl.set_state("p-cust", "disconnected", disconnected_time=tl.t)
    tl.emit_detail("customer.end", "p-cust", "s-p-cust", direction="outbound")
    if skip_acw:
        tl.set_state("p-ag1", "disconnected", disconnected_time=tl.t, acw_state="skipped", acw_end_time=tl.t)
        tl.emit_detail("user.end", "p-ag1", "s-p-ag1", user_id="U1", direction="outbound")
        tl.snapshot()
    else:
        _agent_leaves(tl, "p-ag1", "U1", acw_detail=True)


@st.composite
def conversations(draw: st.DrawFn) -> list[ConversationEvent]:
    """The events of one realistic conversation (all delivered, distinct keys, in time order)."""
    tl = Timeline(t=T0 + draw(st.integers(0, 10_000)))
    mode = draw(st.sampled_from(("both", "both", "snapshots", "details")))
    tl.snapshots = mode != "details"
    tl.details = mode != "snapshots"
    kind = draw(st.sampled_from(("voice", "voice", "email", "callback", "dialed")))
    if kind in ("email", "callback"):
        tl.snapshots = True  # these scenarios are told by snapshots; their detail events are extras
    if kind == "voice":
        _inbound_voice(
            tl, abandon=draw(st.booleans()), transfer=draw(st.booleans()), acw_detail=draw(st.booleans())
        )
    elif kind == "email":
        _email_reopen(tl, reopen=draw(st.booleans()))
    elif kind == "dialed":
        _agent_dials(tl, skip_acw=draw(st.booleans()))
    else:
        _callback_and_outbound(tl)
    return tl.events


_ids = st.sampled_from(("p-cust", "p-ivr", "p-acd", "p-ag1", "p-ag2", "p-x"))
_opt_time = st.none() | st.integers(T0, T0 + 100_000)


def _communications(pid: str) -> st.SearchStrategy[Communication]:
    return st.builds(
        Communication,
        id=st.sampled_from((f"s-{pid}", "s-other")),
        media_type=st.none() | st.sampled_from(("voice", "email", "callback")),
        state=st.none() | st.sampled_from(STATES),
        held=st.none() | st.booleans(),
        confined=st.none() | st.booleans(),
        direction=st.none() | st.sampled_from(("inbound", "outbound")),
        connected_time=_opt_time,
        disconnected_time=_opt_time,
        acw_state=st.none() | st.sampled_from(("pending", "complete", "skipped", "notapplicable")),
        acw_start_time=_opt_time,
        acw_end_time=st.none() | st.none() | _opt_time,
    )


@st.composite
def _participant(draw: st.DrawFn) -> Participant:
    pid = draw(_ids)
    return Participant(
        id=pid,
        purpose=draw(st.none() | st.sampled_from(PURPOSES)),
        user_id=draw(st.none() | st.sampled_from(("U1", "U2"))),
        queue_id=draw(st.none() | st.sampled_from(("Q1", "Q2"))),
        queue_name=draw(st.none() | st.sampled_from(("Billing", "Sales"))),
        connected_time=draw(_opt_time),
        end_time=draw(st.none() | st.none() | _opt_time),
        start_acw_time=draw(st.none() | _opt_time),
        end_acw_time=draw(st.none() | st.none() | _opt_time),
        wrapup_required=draw(st.none() | st.booleans()),
        wrapup_code=draw(st.none() | st.just("WC")),
        monitored_participant_id=draw(st.none() | st.none() | st.none() | st.just("p-ag1")),
        attributes=draw(
            st.dictionaries(st.sampled_from(("a", "b")), st.sampled_from(("1", "2")), max_size=2)
        ),
        communications=tuple(draw(st.lists(_communications(pid), max_size=2))),
    )


_snapshots = st.builds(
    ConversationSnapshot,
    participants=st.lists(_participant(), max_size=3).map(tuple),
    external_tag=st.none() | st.sampled_from(("t1", "t2")),
    division_ids=st.lists(st.sampled_from(("D1", "D2")), max_size=2).map(tuple),
    conversation_start=st.none() | st.none() | _opt_time,
    self_served=st.none() | st.booleans(),
    media_stats_min_conversation_mos=st.none() | st.floats(1.0, 5.0),
)
_details = st.builds(
    DetailEvent,
    kind=st.sampled_from(DETAIL_KINDS),
    participant_id=st.none() | _ids,
    session_id=st.none() | st.sampled_from(("s-p-acd", "s-p-ag1", "s-other")),
    direction=st.none() | st.sampled_from(("inbound", "outbound")),
    queue_id=st.none() | st.sampled_from(("Q1", "Q2")),
    user_id=st.none() | st.sampled_from(("U1", "U2")),
    division_id=st.none() | st.just("D3"),
    acd_outcome=st.none() | st.sampled_from(("answered", "abandon")),
    answered_user_id=st.none() | st.sampled_from(("U1", "U2")),
    flow_type=st.none() | st.sampled_from(("inboundcall", "workflow", "bot")),
    wrapup_code=st.none() | st.just("WC"),
    attributes=st.dictionaries(st.sampled_from(("a", "b")), st.sampled_from(("1", "2")), max_size=2),
)


def noise_events(start: int = 10_000) -> st.SearchStrategy[list[ConversationEvent]]:
    """Arbitrary partial snapshots and detail events over the scenario ids (times may collide)."""
    one = st.tuples(st.integers(T0, T0 + 200_000), st.one_of(_snapshots, _details))
    return st.lists(one, max_size=6).map(
        lambda items: [make_event(start + i, t, body) for i, (t, body) in enumerate(items)]
    )


@st.composite
def any_event_sets(draw: st.DrawFn) -> list[ConversationEvent]:
    """A realistic conversation, some of its events lost, plus noise: a set with distinct keys."""
    events = draw(conversations())
    kept = [e for e in events if draw(st.integers(0, 9)) > 0]
    return kept + draw(noise_events())
