"""The scenario processes, one per kind of ``--mix`` (see :mod:`consumer.simulate.steps` for the protocol).

- ``voice``: IVR -> queue -> alert -> connect, then a variant: ``simple``, ``hold`` (held or confined),
  ``blind`` (blind transfer to another queue), ``consult`` (consult transfer via another queue),
  ``consult_agent`` (consult transfer straight to another agent), ``external`` (transfer to an external
  number: status ``active``), ``self_service`` (ends in the IVR); then disconnect and ACW with wrap-up.
- ``abandon``: voice (after the IVR) or chat; the customer leaves while waiting in queue.
- ``callback``: scheduled (10 min – 3 h ahead), then routed, answered and dialed.
- ``outbound``: dialer call, dialing -> contacting -> connected to the customer, queue, agent; or no answer.
- ``chat``: queue, agent, ACW.
- ``message``: bot flow, queue, agent, ACW; 35 % re-open within the 72 h threading window.
- ``email``: queue, agent, 40 % parked for 15 min – 4 h then resumed; 40 % re-open 1 h – 5 days later.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Final

from consumer.simulate.model import Agent, Conversation, Detail
from consumer.simulate.steps import (
    Process,
    S,
    Sub,
    answer,
    arrive,
    enqueue,
    finish,
    leave,
    other_queue,
    phone,
    side_acw,
    talk,
)
from consumer.simulate.wire import iso_ms

__all__ = ["SCENARIOS", "Process"]

_VOICE: Final = ("simple", "hold", "blind", "consult", "consult_agent", "external", "self_service")
_VOICE_WEIGHTS: Final = tuple(itertools.accumulate((45, 20, 12, 8, 5, 4, 6)))
_TALKING: Final = ("alerting", "connected")


def _hold(c: Conversation, t: int, ag: int) -> Sub:
    rng = c.engine.rng
    t = yield t + talk(c.engine, 0.4)
    held = {"held": True, "startHoldTime": iso_ms(t)}
    if rng.random() < 0.3:
        held = {"confined": True, "startHoldTime": iso_ms(t)}
    c.patch(ag, None, held)
    c.emit(t, "on_hold")
    t = yield t + rng.randint(10 * S, 90 * S)
    c.patch(ag, None, {"held": False, "confined": False}, ("startHoldTime",))
    c.emit(t, "connected")
    return t


def _flow_end(c: Conversation, t: int, flow: int) -> list[Detail]:
    return [c.detail("flow.end", t, flow, disconnectType="TRANSFER")] if c.wd else []


def _user_end(c: Conversation, t: int, ag: int, agent: Agent, disconnect_type: str) -> list[Detail]:
    if not c.wd:
        return []
    return [c.detail("user.end", t, ag, disconnectType=disconnect_type, userId=agent.id,
                     queueId=c.parts[ag]["queueId"])]  # fmt: skip


def _blind(c: Conversation, t: int, ag: int, agent: Agent) -> Sub:
    assert c.last_queue is not None
    queue = other_queue(c.engine, c.last_queue)
    pending = leave(c, t, ag, agent, "transfer")
    acd = enqueue(c, t, queue, "calls", _user_end(c, t, ag, agent, "TRANSFER"))
    if pending:
        side_acw(c, ag, agent)
    return (yield from answer(c, acd, queue, "calls", "inbound", _TALKING))


def _consult(c: Conversation, t: int, ag: int, agent: Agent, via_queue: bool) -> Sub:
    assert c.last_queue is not None
    c.patch(ag, None, {"held": True, "startHoldTime": iso_ms(t)})
    acd: int | None = None
    queue = c.last_queue
    if via_queue:
        queue = other_queue(c.engine, queue)
        acd = c.add_acd(t, queue, "calls", "inbound")
        start = (
            [c.detail("acd.start", t, acd, queueId=queue.id, divisionId=queue.division_id)] if c.wd else []
        )
        c.emit(t, "on_hold", start, det=False)
    else:
        c.emit(t, "on_hold")
    ag2, agent2, t = yield from answer(c, acd, queue, "calls", "inbound", ("on_hold", "connected"))
    t = yield t + c.engine.rng.randint(10 * S, 40 * S)
    pending = leave(c, t, ag, agent, "transfer.consult")
    c.emit(t, "connected", _user_end(c, t, ag, agent, "CONSULT_TRANSFER"), det=True)
    if pending:
        side_acw(c, ag, agent)
    return ag2, agent2, t


def _external(c: Conversation, t: int, cust: int, ag: int, agent: Agent) -> Sub:
    ext = c.add(t, "external", "calls", "outbound", "connected", address=phone(c.engine))
    pending = leave(c, t, ag, agent, "transfer")
    c.emit(t, "active", _user_end(c, t, ag, agent, "TRANSFER"), det=True)
    if pending:
        side_acw(c, ag, agent)
    t = yield t + talk(c.engine)
    c.end_leg(t, cust, "endpoint")
    c.end_leg(t, ext, "peer")
    customer_end = [c.detail("customer.end", t, cust, disconnectType="ENDPOINT")] if c.wd else []
    c.emit(t, "ended", customer_end, det=False)
    return t


def voice(c: Conversation) -> Process:
    """Inbound voice: IVR, queue, agent and one of the variants (module docstring)."""
    engine = c.engine
    c.variant = engine.rng.choices(_VOICE, cum_weights=_VOICE_WEIGHTS)[0]
    cust, t, ivr, _ = arrive(c, engine.now, "calls", "ivr")
    t = yield t + engine.rng.randint(10 * S, 60 * S)
    if c.variant == "self_service":
        c.end_leg(t, ivr, "peer")
        c.end_leg(t, cust, "endpoint")
        ends = [] if not c.wd else [
            c.detail("flow.end", t, ivr, disconnectType="PEER"),
            c.detail("customer.end", t, cust, disconnectType="ENDPOINT"),
        ]  # fmt: skip
        c.emit(t, "ended", ends, det=True)
        return
    queue = c.topic_queue
    c.end_leg(t, ivr, "transfer")
    acd = enqueue(c, t, queue, "calls", _flow_end(c, t, ivr))
    ag, agent, t = yield from answer(c, acd, queue, "calls", "inbound", _TALKING)
    if c.variant == "hold":
        t = yield from _hold(c, t, ag)
    elif c.variant != "simple":
        t = yield t + talk(engine, 0.5)
        if c.variant == "external":
            yield from _external(c, t, cust, ag, agent)
            return
        if c.variant == "blind":
            ag, agent, t = yield from _blind(c, t, ag, agent)
        else:
            ag, agent, t = yield from _consult(c, t, ag, agent, c.variant == "consult")
    t = yield t + talk(engine)
    yield from finish(c, t, cust, ag, agent)


def abandon(c: Conversation) -> Process:
    """The customer leaves while waiting in queue (voice after the IVR, or chat)."""
    engine = c.engine
    queue = c.topic_queue
    if engine.rng.random() < 0.7:
        c.variant = "voice"
        cust, t, ivr, _ = arrive(c, engine.now, "calls", "ivr")
        t = yield t + engine.rng.randint(10 * S, 60 * S)
        c.end_leg(t, ivr, "transfer")
        acd = enqueue(c, t, queue, "calls", _flow_end(c, t, ivr))
    else:
        c.variant = "chat"
        cust, t, _, lead = arrive(c, engine.now, "chats", None)
        acd = enqueue(c, t, queue, "chats", lead)
    t = yield t + engine.rng.randint(5 * S, 180 * S)
    c.end_leg(t, cust, "endpoint")
    c.end_leg(t, acd, "client")
    c.emit(t, "ended", [] if not c.wd else [
        c.detail("acd.end", t, acd, disconnectType="CLIENT", queueId=queue.id, divisionId=queue.division_id,
                 acdOutcome="ABANDON"),
        c.detail("customer.end", t, cust, disconnectType="ENDPOINT"),
    ], det=True)  # fmt: skip


def callback(c: Conversation) -> Process:
    """A callback scheduled now for later; routed at its time, answered, then the agent dials."""
    engine = c.engine
    t0 = engine.now
    c.direction, c.media, c.initiator = "outbound", "callback", "customer"
    when = t0 + engine.rng.randint(600 * S, 3 * 3600 * S)
    number = phone(engine)
    scheduled = {"callbackNumbers": [number[4:]], "callbackUserName": "Customer",
                 "callbackScheduledTime": iso_ms(when)}  # fmt: skip
    cust = c.add(t0, "customer", "callbacks", "outbound", "scheduled", scheduled, address=number)
    c.emit(t0, "scheduled_callback")
    t = yield when
    c.patch(cust, None, {"state": "connected"})
    queue = c.topic_queue
    acd = enqueue(c, t, queue, "callbacks", [], det=False)
    ag, agent, t = yield from answer(c, acd, queue, "callbacks", "outbound", _TALKING)
    t = yield t + talk(engine, 0.7)
    yield from finish(c, t, cust, ag, agent)


def outbound(c: Conversation) -> Process:
    """A dialer call: dialing, contacting, then answered (queue, agent) or not answered."""
    engine = c.engine
    t0 = engine.now
    c.direction, c.media, c.initiator = "outbound", "voice", "outbound"
    camp = c.add(t0, "outbound", "calls", "outbound", "connected", name="Dialer campaign")
    cust = c.add(None, "customer", "calls", "outbound", "dialing", address=phone(engine))
    c.emit(t0 + 100, "dialing")
    t = yield t0 + engine.rng.randint(1 * S, 3 * S)
    c.patch(cust, None, {"state": "contacting"})
    c.emit(t, "dialing")
    t = yield t + engine.rng.randint(5 * S, 25 * S)
    if engine.rng.random() < 0.3:
        c.variant = "no_answer"
        c.end_leg(t, cust, "timeout")
        c.end_leg(t, camp, "peer")
        c.emit(t, "ended")
        return
    c.variant = "answered"
    c.connect(t, cust)
    c.end_leg(t, camp, "transfer")
    queue = c.topic_queue
    acd = enqueue(c, t, queue, "calls", [], det=False)
    ag, agent, t = yield from answer(c, acd, queue, "calls", "outbound", _TALKING)
    t = yield t + talk(engine)
    yield from finish(c, t, cust, ag, agent)


def _inbound_round(c: Conversation, t0: int, mkey: str, park: bool) -> Sub:
    """Customer (no flow) -> queue -> agent [-> park/resume] -> disconnect -> ACW. Returns the end time."""
    engine = c.engine
    cust, t, _, lead = arrive(c, t0, mkey, None)
    queue = c.topic_queue if c.last_queue is None else other_queue(engine, c.topic_queue)
    acd = enqueue(c, t, queue, mkey, lead)
    ag, agent, t = yield from answer(c, acd, queue, mkey, "inbound", _TALKING)
    if park:
        t = yield t + talk(engine, 0.5)
        resume = t + engine.rng.randint(900 * S, 4 * 3600 * S)
        c.patch(ag, None, {"state": "parked", "parkTime": iso_ms(t), "resumeTime": iso_ms(resume)})
        c.emit(t, "parked")
        engine.pool.release(agent, t)
        t = yield resume
        engine.pool.take(agent)
        c.patch(ag, None, {"state": "connected"}, ("parkTime", "resumeTime"))
        c.emit(t, "connected")
    t = yield t + talk(engine, 1.5 if mkey == "emails" else 0.8)
    return (yield from finish(c, t, cust, ag, agent))


def chat(c: Conversation) -> Process:
    """Web chat: queue, agent, ACW."""
    yield from _inbound_round(c, c.engine.now, "chats", park=False)


def message(c: Conversation) -> Process:
    """Messaging: bot flow, queue, agent, ACW; may re-open within the threading window (72 h)."""
    engine = c.engine
    cust, t, flow, _ = arrive(c, engine.now, "messages", "botflow")
    t = yield t + engine.rng.randint(5 * S, 30 * S)
    queue = c.topic_queue
    c.end_leg(t, flow, "transfer")
    acd = enqueue(c, t, queue, "messages", _flow_end(c, t, flow))
    ag, agent, t = yield from answer(c, acd, queue, "messages", "inbound", _TALKING)
    t = yield t + talk(engine, 0.8)
    t = yield from finish(c, t, cust, ag, agent)
    if engine.rng.random() < 0.35:
        c.variant = "reopen"
        t = yield t + engine.rng.randint(300 * S, 48 * 3600 * S)
        yield from _inbound_round(c, t, "messages", park=False)


def email(c: Conversation) -> Process:
    """Email: queue, agent, maybe parked and resumed; may re-open days later (threading window)."""
    rng = c.engine.rng
    park, reopen = rng.random() < 0.4, rng.random() < 0.4
    c.variant = "+".join(v for v, on in (("park", park), ("reopen", reopen)) if on) or "simple"
    t = yield from _inbound_round(c, c.engine.now, "emails", park)
    if reopen:
        # Log-uniform between 1 hour and 5 days: "days later", yet often inside a day-long simulation.
        delay = math.exp(rng.uniform(math.log(3600), math.log(5 * 86400)))
        t = yield t + int(delay * S)
        yield from _inbound_round(c, t, "emails", park=False)


#: Scenario process factories by kind (the keys of ``--mix``).
SCENARIOS: Final[dict[str, Callable[[Conversation], Process]]] = {
    "voice": voice, "abandon": abandon, "callback": callback, "outbound": outbound, "chat": chat,
    "message": message, "email": email,
}  # fmt: skip
