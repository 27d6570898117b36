"""One simulated conversation: its participants as Genesys generic-topic dicts, and its ground truth.

Participants are kept as JSON-ready dicts shaped like ``v2.routing.queues.{id}.conversations``
(genesys-events §2.3/§2.4) and are **copy-on-write**: a change replaces the participant's dict, never
mutates it, so every emitted snapshot can share the unchanged ones without copying (consumers must treat
emitted messages as read-only).

Ground truth comes from the model's own knowledge, not from the fold:

- ``calculated_status``: each transition declares the main *phase* it enters (``connected``,
  ``waiting_in_queue``, ``active``, ``ended``…); the status is that phase, except that an agent with
  after-call work pending turns the low-priority phases (``active``, ``ended``) into ``wrap_up``
  (rows 9–11 of the decision table in consumer/domain/status.py; every other phase outranks ``wrap_up``).
- ``status_changed_at``: the event time at which the status last changed: the snapshot's receive time
  (= its event time), or, when the transition's detail events alone already imply the new status
  (flag ``det``) and this conversation emits detail events, their ``eventTime``.
- ``last_queue_id``: the queue of the most recent acd participant (at most one is active at a time, and
  a later one always ends later, so this is the last-queue rule). ``last_queue_name``: that queue's name;
  acd participants carry it in ``name`` and the queue directory (``--queues-out``) has the same name.
- ``conversation_start``: the earliest participant connected time (the first participant of every
  scenario is connected when it appears, strictly before any other). ``conversation_end``: the latest
  participant end time, only while ``ended``.
- ``self_served``: ended, had a flow participant, never an agent (derived columns), null while not ended.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

from consumer.genesys.entries import ParticipantEntry, participant_entry
from consumer.simulate.wire import iso_ms, uuid_from

if TYPE_CHECKING:
    from consumer.simulate.engine import Engine

__all__ = ["Agent", "Conversation", "Detail", "Queue"]

#: Phases that outrank ``wrap_up`` in the decision table (a pending ACW does not show while any holds).
_OUTRANK_WRAP_UP: Final = frozenset(
    {"connected", "on_hold", "parked", "alerting", "dialing", "scheduled_callback", "waiting_in_queue",
     "in_ivr"}
)  # fmt: skip
_MEDIA_TYPE: Final = {
    "calls": "VOICE", "callbacks": "CALLBACK", "chats": "CHAT", "emails": "EMAIL", "messages": "MESSAGE"
}  # fmt: skip
_TRANSIENT: Final = ("startHoldTime", "parkTime", "resumeTime")  # gone once a communication ends
_MIN_STEP: Final = 50  # ms between two transitions of one conversation: keeps event times distinct

#: A detail event to emit: (topic kind such as ``acd.end``, body).
Detail = tuple[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Queue:
    """A routing queue of the simulated org."""

    id: str
    name: str
    division_id: str
    topic: str = ""  # its generic conversation topic, ``v2.routing.queues.{id}.conversations``

    def __post_init__(self) -> None:
        if not self.topic:
            object.__setattr__(self, "topic", f"v2.routing.queues.{self.id}.conversations")


@dataclass(frozen=True, slots=True)
class Agent:
    """An agent (Genesys user) of the simulated org."""

    index: int
    id: str
    name: str


class Conversation:
    """A conversation's live participants plus everything the ground truth needs."""

    __slots__ = (
        "_acw_start", "_div_objs", "_meta", "_n", "acw_pending", "agents_seen", "assigned", "base",
        "changed_at", "direction", "divisions", "end", "engine", "entries", "external_tag", "has_agent",
        "has_flow", "id", "initiator", "kind", "last_event_at", "last_queue", "last_t", "media", "mkeys",
        "parts", "process", "sched", "start", "status", "topic_queue", "variant", "wd",
    )  # fmt: skip

    def __init__(self, engine: Engine, kind: str, variant: str, topic_queue: Queue, wd: bool) -> None:
        self.engine = engine
        self.id = uuid_from(engine.rng)
        self.kind, self.variant = kind, variant
        self.topic_queue = topic_queue
        self.wd = wd  # emits detail events
        self.external_tag: str | None = None
        self.parts: list[dict[str, Any]] = []
        #: The normalized form of each of ``parts`` when the engine keeps them (``keep_entries``).
        self.entries: list[ParticipantEntry | None] = []
        self.mkeys: list[str] = []
        self._meta: list[tuple[str, str, str, str]] = []  # pid, comm id, MEDIA, DIRECTION
        self._acw_start: dict[int, int] = {}
        self.divisions: set[str] = {engine.home_division}
        self._div_objs = _division_objects(self.divisions)
        self.status: str | None = None
        self.base = ""
        self.changed_at = self.last_t = self.last_event_at = 0
        self.start: int | None = None
        self.end: int | None = None
        self.acw_pending = 0
        self._n = 0
        self.last_queue: Queue | None = None
        self.has_flow = self.has_agent = False
        self.direction = self.media = self.initiator = ""
        self.agents_seen: set[int] = set()
        self.assigned: Agent | None = None
        self.sched: list[tuple[int, int]] = []  # keys of this conversation's scheduled model items
        self.process: Generator[int | None, int, None] | None = None

    # ------------------------------------------------------------------ participants

    def add(
        self,
        t: int | None,
        purpose: str,
        mkey: str,
        direction: str,
        state: str,
        comm_fields: dict[str, Any] | None = None,
        **fields: Any,
    ) -> int:
        """Add a participant with one communication; connected at ``t`` unless ``t`` is None."""
        rng = self.engine.rng
        pid, comm_id = uuid_from(rng), uuid_from(rng)
        comm: dict[str, Any] = {"id": comm_id, "state": state, "initialState": state, "held": False}
        if mkey == "calls":
            comm["confined"] = False
            comm["recording"] = purpose == "customer"
        comm["direction"] = direction
        comm["provider"] = "PureCloud Messaging" if mkey == "messages" else "Edge"
        if comm_fields:
            comm.update(comm_fields)
        part: dict[str, Any] = {"id": pid, "purpose": purpose, **fields}
        if t is not None:
            comm["connectedTime"] = part["connectedTime"] = iso_ms(t)
            self.start = t if self.start is None else min(self.start, t)
        part["wrapupRequired"] = fields.get("wrapupRequired", False)
        part[mkey] = [comm]
        self.parts.append(part)
        if self.engine.keep_entries:
            self.entries.append(participant_entry(part))
        self.mkeys.append(mkey)
        self._meta.append((pid, comm_id, _MEDIA_TYPE[mkey], direction.upper()))
        return len(self.parts) - 1

    def add_acd(self, t: int, queue: Queue, mkey: str, direction: str) -> int:
        """An acd participant waiting in ``queue`` (its communication shows ``connected`` while waiting)."""
        self.last_queue = self.topic_queue = queue
        if queue.division_id not in self.divisions:
            self.divisions.add(queue.division_id)
            self._div_objs = _division_objects(self.divisions)
        return self.add(t, "acd", mkey, direction, "connected", name=queue.name, queueId=queue.id)

    def patch(
        self,
        i: int,
        part: dict[str, Any] | None = None,
        comm: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
    ) -> None:
        """Replace participant ``i`` by a copy with ``part``/``comm`` fields set, ``drop`` keys removed
        from its communication."""
        new = dict(self.parts[i])
        if part:
            new.update(part)
        if comm or drop:
            mkey = self.mkeys[i]
            last = dict(new[mkey][-1])
            if comm:
                last.update(comm)
            for key in drop:
                last.pop(key, None)
            new[mkey] = [*new[mkey][:-1], last]
        self.parts[i] = new
        if self.engine.keep_entries:
            self.entries[i] = participant_entry(new)

    def connect(self, t: int, i: int) -> None:
        """Communication (and participant) connected at ``t``."""
        iso = iso_ms(t)
        self.patch(i, {"connectedTime": iso}, {"state": "connected", "connectedTime": iso})
        self.start = t if self.start is None else min(self.start, t)

    def end_leg(self, t: int, i: int, disconnect_type: str) -> None:
        """Participant ``i`` ends at ``t``; an agent with wrap-up required enters after-call work."""
        iso = iso_ms(t)
        part: dict[str, Any] = {"endTime": iso}
        comm: dict[str, Any] = {
            "state": "disconnected", "disconnectType": disconnect_type, "disconnectedTime": iso,
            "held": False,
        }  # fmt: skip
        if self.parts[i].get("wrapupRequired"):
            part["startAcwTime"] = iso
            comm["afterCallWorkRequired"] = True
            comm["afterCallWork"] = {"state": "pending", "startTime": iso}
            self._acw_start[i] = t
            self.acw_pending += 1
        self.patch(i, part, comm, _TRANSIENT)
        self.end = t if self.end is None else max(self.end, t)

    def finish_acw(self, t: int, i: int, code: str) -> int:
        """Agent ``i`` completes after-call work at ``t`` with wrap-up ``code``; returns its duration ms."""
        started = self._acw_start.pop(i)
        seconds = (t - started) // 1000
        iso = iso_ms(t)
        self.patch(
            i,
            {"endAcwTime": iso, "wrapup": {"code": code, "notes": "", "durationSeconds": seconds}},
            {"afterCallWork": {"state": "complete", "startTime": iso_ms(started), "endTime": iso}},
        )
        self.acw_pending -= 1
        return seconds * 1000

    def pid(self, i: int) -> str:
        """Participant id of index ``i``."""
        return self._meta[i][0]

    # ------------------------------------------------------------------ detail events and emission

    def detail(self, kind: str, t: int, i: int, **extra: Any) -> Detail:
        """A detail event ``kind`` about participant ``i`` at ``t`` (genesys-events §3.2 field names)."""
        pid, comm_id, media, direction = self._meta[i]
        body: dict[str, Any] = {
            "eventTime": t, "conversationId": self.id, "participantId": pid, "sessionId": comm_id,
            "mediaType": media, "provider": "Edge", "direction": direction,
        }  # fmt: skip
        body.update(extra)
        return kind, body

    def step(self, t: int) -> int:
        """The time of the next transition: ``t`` or later, never within 50 ms of the previous one."""
        return max(t, self.last_t + _MIN_STEP)

    def emit(self, t: int, phase: str, details: Sequence[Detail] | bool = False, det: bool = False) -> None:
        """Publish the transition at ``t`` that enters ``phase``: its detail events, then a snapshot.

        Args:
            t: Transition time (the latest fact in it). The snapshot is received 3–6 ms later.
            phase: The main phase after the transition (see the module docstring).
            details: Detail events of the transition (only emitted when this conversation has them;
                callers pass ``self.wd and [...]`` so none are built otherwise).
            det: The detail events alone already imply the new status (consumer/domain/merge.py), at ``t``.
        """
        self.base = phase
        status = phase if phase in _OUTRANK_WRAP_UP or not self.acw_pending else "wrap_up"
        received = t + 3 + (self._n & 3)
        self._n += 1
        engine = self.engine
        with_details = bool(details) and self.wd
        if with_details:
            for kind, body in details:  # type: ignore[union-attr]
                engine.push_detail(self, kind, body)
        body = {"id": self.id}
        if self.external_tag is not None:
            body["externalTag"] = self.external_tag
        body["participants"] = list(self.parts)
        body["divisions"] = self._div_objs
        changed = status != self.status
        if changed:
            self.status = status
            self.changed_at = t if with_details and det else received
        self.last_t = t
        self.last_event_at = received
        entries = None
        if engine.keep_entries and None not in self.entries:
            entries = cast("tuple[ParticipantEntry, ...]", tuple(self.entries))
        engine.push_snapshot(self, received, body, not changed and (det or not with_details), entries)

    def reemit(self, t: int) -> None:
        """A transition that keeps the main phase (side events such as another agent's ACW)."""
        self.emit(t, self.base)

    # ------------------------------------------------------------------ truth

    def release(self) -> None:
        """Drop what only the live model needs (participants, process) once nothing more can happen."""
        self.parts, self.mkeys, self._meta, self.entries = [], [], [], []
        self._acw_start = {}
        self.process = None
        self.assigned = None

    def truth(self, logic_version: int) -> dict[str, Any]:
        """The ground-truth row, keys and formats exactly as ``convstream fold`` prints them."""
        ended = self.status == "ended"
        queue = self.last_queue
        return {
            "conversation_id": self.id,
            "calculated_status": self.status,
            "status_changed_at": iso_ms(self.changed_at),
            "last_queue_id": queue.id if queue else None,
            "last_queue_name": queue.name if queue else None,
            "conversation_start": iso_ms(self.start) if self.start is not None else None,
            "conversation_end": iso_ms(self.end) if ended and self.end is not None else None,
            "originating_direction": self.direction,
            "original_media_type": self.media,
            "conversation_initiator": self.initiator,
            "external_tag": self.external_tag,
            "self_served": (self.has_flow and not self.has_agent) if ended else None,
            "customer_participation": None,
            "division_ids": sorted(self.divisions),
            "last_event_at": iso_ms(self.last_event_at),
            "logic_version": logic_version,
        }


_DIVISION_CACHE: dict[tuple[str, ...], list[dict[str, Any]]] = {}


def _division_objects(divisions: set[str]) -> list[dict[str, Any]]:
    key = tuple(sorted(divisions))
    cached = _DIVISION_CACHE.get(key)
    if cached is not None:
        return cached
    if len(_DIVISION_CACHE) > 4096:
        _DIVISION_CACHE.clear()
    cached = _DIVISION_CACHE[key] = [
        {"division": {"id": d, "selfUri": f"/api/v2/authorization/divisions/{d}"}} for d in key
    ]
    return cached
