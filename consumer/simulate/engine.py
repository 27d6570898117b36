"""The discrete-event engine: arrivals, scenario processes, the agent pool, output order and disorder.

Order of work (the guarantees the tests rely on):

1. Model items (arrivals, process resumptions, side events) run in ``(time, sequence)`` order; each
   runs one transition of one conversation, dated no earlier than the item's time.
2. Every message a transition produces is queued by its receive time (detail events: ``eventTime``
   + 1 ms; snapshots: transition time + 3..6 ms) and released, in receive-time order, once no later
   model item can produce an earlier one. So the model-order stream is monotone in receive time.
3. Drops: a snapshot whose transition left the status unchanged may be dropped, and only when the same
   conversation has another transition scheduled before the end of the run — the final snapshot and
   every snapshot that changed the status are always delivered, so the truth stays exact.
4. Delivery stage, in this order: presentation (Notifications line with ``receivedAt``, or an
   EventBridge event with ``detail.timestamp``), duplication (the same object twice in a row), then a
   reorder window (a random message from a buffer of ``reorder_window`` is delivered next).
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Final, NamedTuple

from consumer.genesys.entries import ParticipantEntry
from consumer.simulate.model import Agent, Conversation, Queue
from consumer.simulate.options import KINDS, SimulationOptions
from consumer.simulate.scenarios import SCENARIOS, Process
from consumer.simulate.wire import eventbridge, notification, uuid_from

__all__ = ["AgentPool", "Engine", "SimMessage"]

_QUEUE_NAMES: Final = ("Sales", "Support", "Billing", "Retention", "Claims", "Onboarding", "Tech", "VIP")
_RESUME, _SIDE, _ARRIVAL = 0, 1, 2
_NEVER: Final = (1 << 62, 0)


class SimMessage(NamedTuple):
    """One delivered line: ``message`` is the Genesys JSON object (read-only: parts are shared).

    ``received_at`` is epoch ms (the line's ``receivedAt`` / EventBridge ``detail.timestamp``);
    ``conversation_id`` is the Kafka key. ``participants``: for a snapshot of a simulation that keeps
    them (``keep_entries``), the normalized entries of its participants, in order (see
    :mod:`consumer.genesys.entries`), else None. (A NamedTuple: created once per message, so cheap.)
    """

    message: dict[str, Any]
    received_at: int
    conversation_id: str
    participants: tuple[ParticipantEntry, ...] | None = None


class AgentPool:
    """Agents, served to waiting conversations first-come first-served.

    An agent is never handed to a conversation it already served while another agent could be (keeps
    ``answeredUserId`` unambiguous). An agent with a parked email is free for other work and takes the
    email back when it resumes (:meth:`take`), as Genesys agents handle several emails at once.
    """

    def __init__(self, engine: Engine, agents: list[Agent]) -> None:
        self._engine = engine
        self._agents = agents
        self._load = [0] * len(agents)
        self._since = [0] * len(agents)
        self._free = [(0, a.index) for a in agents]  # (free since, index): longest idle first; lazy
        self._waiters: deque[Conversation] = deque()

    def _fits(self, c: Conversation, agent: int) -> bool:
        return agent not in c.agents_seen or len(c.agents_seen) >= len(self._agents)

    def acquire(self, c: Conversation) -> Agent | None:
        """A free agent for ``c`` now, or None (``c`` then waits; :meth:`release` resumes it)."""
        skipped = []
        found: Agent | None = None
        while self._free:
            item = heapq.heappop(self._free)
            since, index = item
            if self._load[index] or since != self._since[index]:
                continue  # stale entry: the agent was taken back (resumed email)
            if self._fits(c, index):
                found = self._agents[index]
                self._load[index] = 1
                break
            skipped.append(item)
        for item in skipped:
            heapq.heappush(self._free, item)
        if found is None:
            self._waiters.append(c)
        return found

    def take(self, agent: Agent) -> None:
        """``agent`` takes back work it parked (busy again, whether or not it was free)."""
        self._load[agent.index] += 1

    def release(self, agent: Agent, t: int) -> None:
        """``agent`` finished one piece of work at ``t``; when idle, the first waiter it fits gets it."""
        index = agent.index
        self._load[index] -= 1
        if self._load[index]:
            return
        for i, c in enumerate(self._waiters):
            if self._fits(c, index):
                del self._waiters[i]
                c.assigned = agent
                self._load[index] = 1
                self._engine.resume(c, t + self._engine.rng.randint(500, 2500))
                return
        self._since[index] = t
        heapq.heappush(self._free, (t, index))


class Engine:
    """Runs the model and yields delivered messages (see the module docstring for the order of work)."""

    def __init__(
        self, options: SimulationOptions, cutoff: tuple[int, int] | None = None, *, keep_entries: bool = False
    ) -> None:
        seed = options.seed
        self.options = options
        #: Keep each participant's normalized entry next to its dict (for publishing; see SimMessage).
        self.keep_entries = keep_entries
        self.rng = random.Random(seed)  # noqa: S311 - a seeded simulation, not security
        self._arrivals = random.Random(f"{seed}:arrivals")  # noqa: S311 - a seeded simulation, not security
        self._details = random.Random(f"{seed}:details")  # noqa: S311 - a seeded simulation, not security
        self._drops = random.Random(f"{seed}:drops")  # noqa: S311 - a seeded simulation, not security
        self._out = random.Random(f"{seed}:delivery")  # noqa: S311 - a seeded simulation, not security
        self.home_division = uuid_from(self.rng)
        divisions = [uuid_from(self.rng) for _ in range(2)]
        self.queues = [
            Queue(uuid_from(self.rng), f"{_QUEUE_NAMES[i % len(_QUEUE_NAMES)]} {i + 1:02d}", divisions[i % 2])
            for i in range(options.queues)
        ]
        self.agents = [Agent(i, uuid_from(self.rng), f"Agent {i + 1:03d}") for i in range(options.agents)]
        self.pool = AgentPool(self, self.agents)
        self.conversations: list[Conversation] = []
        self.arrived = 0
        self.now = options.start_ms
        self.stats: dict[str, int] = {}
        self.model_messages = 0
        self.last_key: tuple[int, int] = (options.start_ms, 0)
        self._cutoff = cutoff if cutoff is not None else self._plan_cutoff()
        self._heap: list[tuple[int, int, int, Any, Any]] = []
        self._seq = 0
        self._outq: list[tuple[int, int, list[Any]]] = []
        self.snapshots = self._delivered = 0
        self._correlation_prefix = uuid_from(self._out)[:24]
        self._candidates: list[tuple[Conversation, list[Any]]] = []
        self._kinds = [k for k in KINDS if options.mix.get(k, 0) > 0]
        self._cum_weights = list(itertools.accumulate(options.mix[k] for k in self._kinds))

    # ------------------------------------------------------------------ scheduling

    def _plan_cutoff(self) -> tuple[int, int]:
        """End of the run as a model-item key: the N-th arrival, the duration, or never (events)."""
        opts = self.options
        if opts.conversations is not None:
            probe = random.Random(f"{opts.seed}:arrivals")  # noqa: S311 - a seeded simulation, not security
            t = opts.start_ms
            for _ in range(opts.conversations - 1):
                t += self._gap(probe)
            return (t, 1 << 62)
        if opts.duration_s is not None:
            return (opts.start_ms + int(opts.duration_s * 1000), 1 << 62)
        return _NEVER

    def _gap(self, rng: random.Random) -> int:
        return max(1, int(rng.expovariate(self.options.arrival_rate) * 1000))

    def _push(self, t: int, kind: int, c: Conversation | None, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, c, payload))
        if c is not None:
            c.sched.append((t, self._seq))

    def resume(self, c: Conversation, t: int) -> None:
        """Resume ``c``'s process at ``t`` (used by the pool for waiting conversations)."""
        self._push(max(t, self.now), _RESUME, c, None)

    def side(self, c: Conversation, t: int, action: Callable[[int], None]) -> None:
        """Run ``action(transition_time)`` for ``c`` at ``t``, independently of its main process."""
        self._push(max(t, self.now), _SIDE, c, action)

    # ------------------------------------------------------------------ output

    def push_detail(self, c: Conversation, kind: str, body: dict[str, Any]) -> None:
        """Queue a detail event (received 1 ms after its ``eventTime``)."""
        topic = f"v2.detail.events.conversation.{c.id}.{kind}"
        entry = [topic, f"v2.detail.events.conversation.{{id}}.{kind}", body, c, True, None]
        self._seq += 1
        heapq.heappush(self._outq, (body["eventTime"] + 1, self._seq, entry))
        self.model_messages += 1
        self._count("detail_events")

    def push_snapshot(
        self,
        c: Conversation,
        received: int,
        body: dict[str, Any],
        droppable: bool,
        entries: tuple[ParticipantEntry, ...] | None = None,
    ) -> None:
        """Queue a generic queue-topic snapshot received at ``received`` (``entries``: see SimMessage)."""
        entry = [c.topic_queue.topic, "v2.routing.queues.{id}.conversations", body, c, True, entries]
        self._seq += 1
        heapq.heappush(self._outq, (received, self._seq, entry))
        self.model_messages += 1
        self.snapshots += 1
        if droppable and self.options.drop_rate > 0:
            self._candidates.append((c, entry))

    def _count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    def _decide_drops(self) -> None:
        # Step 3. Only when a later transition of the same conversation will certainly be delivered.
        for c, entry in self._candidates:
            if any(key <= self._cutoff for key in c.sched) and self._drops.random() < self.options.drop_rate:
                entry[4] = False
        self._candidates.clear()

    def _release(self, until: int) -> Iterator[SimMessage]:
        outq = self._outq
        while outq and outq[0][0] <= until:
            received, _, (topic, pattern, body, c, alive, entries) = heapq.heappop(outq)
            if not alive:
                self._count("dropped")
                continue
            yield self._present(topic, pattern, body, c, received, entries)

    def _present(
        self,
        topic: str,
        pattern: str,
        body: dict[str, Any],
        c: Conversation,
        t: int,
        entries: tuple[ParticipantEntry, ...] | None,
    ) -> SimMessage:
        # Step 4 (presentation). Correlation ids are unique per message; they need not look random.
        self._delivered += 1
        correlation = f"{self._correlation_prefix}{self._delivered:012x}"
        if self.options.eventbridge > 0 and self._out.random() < self.options.eventbridge:
            self._count("eventbridge")
            message = eventbridge(topic, pattern, body, correlation, t, uuid_from(self._out))
        else:
            message = notification(topic, body, correlation, t)
        return SimMessage(message, t, c.id, entries)

    # ------------------------------------------------------------------ the run

    def run(self) -> Iterator[SimMessage]:
        """Model-order messages (monotone ``received_at``), before duplication and reordering."""
        opts = self.options
        self._push(opts.start_ms, _ARRIVAL, None, None)
        heap = self._heap
        while heap:
            t, seq, kind, c, payload = heap[0]
            if (t, seq) > self._cutoff or (opts.events is not None and self.model_messages >= opts.events):
                break
            heapq.heappop(heap)
            # Step 2. Nothing later can be received before t + 1.
            yield from self._release(t)
            self.now, self.last_key = t, (t, seq)
            if kind == _ARRIVAL:
                self._arrive(t)
            else:
                c.sched.remove((t, seq))
                if kind == _RESUME:
                    self._advance(c, c.step(t))
                else:
                    payload(c.step(t))
            if self._candidates:
                self._decide_drops()
            if c is not None:
                self._release_if_done(c)
        yield from self._release(1 << 62)

    def _arrive(self, t: int) -> None:
        opts = self.options
        kind = self.rng.choices(self._kinds, cum_weights=self._cum_weights)[0]
        queue = self.queues[self.rng.randrange(len(self.queues))]
        wd = opts.detail_events > 0 and self._details.random() < opts.detail_events
        c = Conversation(self, kind, kind, queue, wd)
        if self.rng.random() < 0.25:
            c.external_tag = f"ext-{self.rng.getrandbits(40):010x}"
        self.arrived += 1
        if not opts.unbounded:  # an endless real-time run has no truth: it keeps no finished conversations
            self.conversations.append(c)
        self._count(f"kind.{kind}")
        process: Process = SCENARIOS[kind](c)
        c.process = process
        self._advance(c, None)
        self._release_if_done(c)
        if opts.conversations is None or self.arrived < opts.conversations:
            self._push(t + self._gap(self._arrivals), _ARRIVAL, None, None)

    @staticmethod
    def _release_if_done(c: Conversation) -> None:
        # Frees memory of long runs; the truth needs only the conversation's scalar facts.
        if c.process is None and not c.sched:
            c.release()

    def _advance(self, c: Conversation, t: int | None) -> None:
        assert c.process is not None
        try:
            wake = next(c.process) if t is None else c.process.send(t)
        except StopIteration:
            c.process = None
            return
        if wake is not None:
            self._push(max(wake, self.now), _RESUME, c, None)
