"""Building blocks of the scenario processes (:mod:`consumer.simulate.scenarios`).

Scenario processes: one generator per conversation, driven by :class:`~consumer.simulate.engine.Engine`.

A process yields the absolute simulated time (epoch ms) of its next transition, or ``None`` to wait for
an agent (the pool resumes it). It is sent back the actual transition time (never earlier than asked,
never within 50 ms of its previous transition) and performs exactly one transition (one ``emit``) per
resumption. Agents left by a transfer finish their after-call work as engine *side* events.

Each transition passes ``det=True`` only when its detail events alone imply the new status under
the merge rules (see :mod:`consumer.simulate.model`); transitions that only snapshots can describe (hold,
park, callback scheduling, dialing, a customer leaving an external party) pass ``det=False``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Final

from consumer.simulate.model import Agent, Conversation, Detail, Queue

if TYPE_CHECKING:
    from consumer.simulate.engine import Engine

__all__ = [
    "Process", "S", "Sub", "acw_detail", "answer", "arrive", "enqueue", "finish", "leave", "other_queue",
    "phone", "side_acw", "talk",
]  # fmt: skip

#: A scenario process (see the module docstring).
Process = Generator[int | None, int, None]
Sub = Generator[int | None, int, Any]

S: Final = 1000
_FLOW_ID: Final = "3c1f2d7e-5b0a-4e43-9a51-0f6f1c7a2b11"
_WRAPUP_CODES: Final = (
    "5e2b4a70-0c1d-4f3e-8a9b-000000000001", "5e2b4a70-0c1d-4f3e-8a9b-000000000002",
    "5e2b4a70-0c1d-4f3e-8a9b-000000000003", "5e2b4a70-0c1d-4f3e-8a9b-000000000004",
)  # fmt: skip


def phone(engine: Engine) -> str:
    return f"tel:+1555{engine.rng.randrange(10_000_000):07d}"


def talk(engine: Engine, factor: float = 1.0) -> int:
    mean = engine.options.handle_time_s * factor
    return int(max(5.0, engine.rng.expovariate(1.0 / mean)) * S)


def other_queue(engine: Engine, queue: Queue) -> Queue:
    queues = engine.queues
    if len(queues) == 1:
        return queue
    pick = queues[engine.rng.randrange(len(queues) - 1)]
    return queues[-1] if pick is queue else pick


def answer(
    c: Conversation, acd: int | None, queue: Queue, mkey: str, direction: str, phases: tuple[str, str]
) -> Sub:
    """Get an agent (waiting if none is free), alert, connect. Returns (participant, agent, time)."""
    engine = c.engine
    agent = engine.pool.acquire(c)
    if agent is None:
        t = yield None  # the pool resumes us when an agent frees up
        agent = c.assigned
        assert agent is not None
    else:
        t = yield engine.now + engine.rng.randint(500, 2500)
    new = agent.index not in c.agents_seen
    c.agents_seen.add(agent.index)
    c.has_agent = True
    required = engine.rng.random() < 0.85
    ag = c.add(None, "agent", mkey, direction, "alerting", name=agent.name, userId=agent.id,
               queueId=queue.id, wrapupRequired=required)  # fmt: skip
    ids = {"userId": agent.id, "queueId": queue.id, "divisionId": queue.division_id}
    c.emit(t, phases[0], [c.detail("user.start", t, ag, **ids)] if c.wd else [], det=True)
    t = yield t + engine.rng.randint(2 * S, 12 * S)
    c.connect(t, ag)
    if acd is None:
        c.emit(t, phases[1])
        return ag, agent, t
    c.end_leg(t, acd, "transfer")
    acd_end = [] if not c.wd else [c.detail(
        "acd.end", t, acd, disconnectType="TRANSFER", queueId=queue.id, divisionId=queue.division_id,
        acdOutcome="ANSWERED", answeredUserId=agent.id, usedRouting="STANDARD",
    )]  # fmt: skip
    c.emit(t, phases[1], acd_end, det=new)
    return ag, agent, t


def acw_detail(c: Conversation, t: int, ag: int, agent: Agent, code: str, ms: int) -> list[Detail]:
    queue_id = c.parts[ag]["queueId"]
    return [c.detail("acw", t, ag, userId=agent.id, queueId=queue_id, wrapupCode=code,
                     wrapupNotes="", wrapupDurationMs=ms)]  # fmt: skip


def leave(c: Conversation, t: int, ag: int, agent: Agent, disconnect_type: str) -> bool:
    """Agent participant ``ag`` leaves; frees the agent now unless after-call work follows."""
    c.end_leg(t, ag, disconnect_type)
    pending = bool(c.parts[ag].get("wrapupRequired"))
    if not pending:
        c.engine.pool.release(agent, t)
    return pending


def side_acw(c: Conversation, ag: int, agent: Agent) -> None:
    """Schedule the after-call work of an agent who left while the conversation goes on."""
    engine = c.engine

    def finish(t: int) -> None:
        code = _WRAPUP_CODES[engine.rng.randrange(len(_WRAPUP_CODES))]
        ms = c.finish_acw(t, ag, code)
        engine.pool.release(agent, t)
        c.emit(t, c.base, acw_detail(c, t, ag, agent, code, ms) if c.wd else [], det=True)

    engine.side(c, c.last_t + engine.rng.randint(5 * S, 60 * S), finish)


def finish(c: Conversation, t: int, cust: int, ag: int, agent: Agent) -> Sub:
    """Customer and agent disconnect; the agent's after-call work, if any, ends the conversation."""
    engine = c.engine
    customer_first = engine.rng.random() < 0.6
    c.end_leg(t, cust, "endpoint" if customer_first else "peer")
    pending = leave(c, t, ag, agent, "peer" if customer_first else "client")
    uid = {"userId": agent.id, "queueId": c.parts[ag]["queueId"]}
    c.emit(t, "ended", [] if not c.wd else [
        c.detail("customer.end", t, cust, disconnectType="ENDPOINT" if customer_first else "PEER"),
        c.detail("user.end", t, ag, disconnectType="PEER" if customer_first else "CLIENT", **uid),
    ], det=True)  # fmt: skip
    if pending:
        t = yield t + engine.rng.randint(5 * S, 60 * S)
        code = _WRAPUP_CODES[engine.rng.randrange(len(_WRAPUP_CODES))]
        ms = c.finish_acw(t, ag, code)
        engine.pool.release(agent, t)
        c.emit(t, "ended", acw_detail(c, t, ag, agent, code, ms) if c.wd else [], det=True)
    return t


def arrive(c: Conversation, t0: int, mkey: str, flow_purpose: str | None) -> tuple[int, int, int, list[Any]]:
    """A customer arrives (inbound) at ``t0``, with a flow participant 150 ms later when asked.

    With a flow, the transition (``in_ivr``) is emitted here. Without one, nothing is emitted and the
    returned detail list (``customer.start``) leads the caller's next transition.

    Returns:
        (customer index, transition time, flow index or -1, leading detail events)
    """
    engine = c.engine
    media = {"calls": "voice", "chats": "chat", "messages": "message", "emails": "email"}[mkey]
    if not c.media:
        c.direction, c.media, c.initiator = "inbound", media, "customer"
    address = phone(engine) if mkey in ("calls", "messages") else "mailto:customer@example.com"
    cust = c.add(t0, "customer", mkey, "inbound", "connected", address=address)
    lead = [c.detail("customer.start", t0, cust, divisionId=engine.home_division)] if c.wd else []
    if flow_purpose is None:
        return cust, t0 + 100, -1, lead
    t = t0 + 150
    flow = c.add(t, flow_purpose, mkey, "inbound", "connected", name="Main flow")
    c.has_flow = True
    flow_type = "INBOUNDCALL" if mkey == "calls" else "BOT"
    if c.wd:
        lead.append(c.detail("flow.start", t, flow, flowType=flow_type, flowId=_FLOW_ID,
                             divisionId=engine.home_division))  # fmt: skip
    c.emit(t, "in_ivr", lead, det=True)
    return cust, t, flow, []


def enqueue(c: Conversation, t: int, queue: Queue, mkey: str, lead: list[Any], det: bool = True) -> int:
    """The conversation enters ``queue`` at ``t`` (``acd.start``), after the ``lead`` detail events."""
    acd = c.add_acd(t, queue, mkey, "outbound" if c.direction == "outbound" else "inbound")
    if c.wd:
        lead = [*lead, c.detail("acd.start", t, acd, queueId=queue.id, divisionId=queue.division_id)]
    c.emit(t, "waiting_in_queue", lead, det=det)
    return acd
