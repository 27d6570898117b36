"""Measure the pure fold's throughput on realistic snapshot-shaped events (not a test; never timed in CI).

Builds N conversations x ~5 whole-conversation snapshots each (inbound voice: customer + IVR, then queue,
then agent alerting, connected, disconnected with ACW) in memory, shuffles conversations together
(events of one conversation keep their order), then times ``fold`` over all of them.

Usage: ``.venv/bin/python scripts/fold_speed.py [--events 100000] [--repeat 3] [--profile]``
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import random
import time

from consumer.domain import (
    Communication,
    ConversationEvent,
    ConversationSnapshot,
    ConversationState,
    Participant,
    fold,
)

__all__ = ["build_events", "main"]

PROFILE_PATH = "fold_speed.prof"


def _conversation(n: int, t0: int) -> list[ConversationEvent]:
    cid = f"conv-{n:08d}"
    cust = Participant(
        id=f"{cid}-pc",
        purpose="customer",
        address="tel:+15551230000",
        connected_time=t0,
        communications=(
            Communication(
                id=f"{cid}-c1",
                media_type="voice",
                state="connected",
                direction="inbound",
                connected_time=t0,
                held=False,
            ),
        ),
    )
    ivr_on = Participant(
        id=f"{cid}-pi",
        purpose="ivr",
        connected_time=t0 + 100,
        communications=(
            Communication(id=f"{cid}-c2", media_type="voice", state="connected", connected_time=t0 + 100),
        ),
    )
    ivr_off = Participant(
        id=f"{cid}-pi",
        purpose="ivr",
        connected_time=t0 + 100,
        end_time=t0 + 20_000,
        communications=(
            Communication(
                id=f"{cid}-c2",
                media_type="voice",
                state="disconnected",
                connected_time=t0 + 100,
                disconnected_time=t0 + 20_000,
                disconnect_type="transfer",
            ),
        ),
    )
    acd = Participant(
        id=f"{cid}-pa",
        purpose="acd",
        name="Billing",
        queue_id="Q1",
        connected_time=t0 + 20_010,
        communications=(
            Communication(id=f"{cid}-c3", media_type="voice", state="connected", connected_time=t0 + 20_010),
        ),
    )
    acd_off = Participant(
        id=f"{cid}-pa",
        purpose="acd",
        name="Billing",
        queue_id="Q1",
        connected_time=t0 + 20_010,
        end_time=t0 + 40_000,
        communications=(
            Communication(
                id=f"{cid}-c3",
                media_type="voice",
                state="disconnected",
                connected_time=t0 + 20_010,
                disconnected_time=t0 + 40_000,
            ),
        ),
    )

    def agent(state: str, end: int | None = None, acw: str | None = None) -> Participant:
        return Participant(
            id=f"{cid}-pu",
            purpose="agent",
            user_id="U1",
            queue_id="Q1",
            wrapup_required=True,
            connected_time=t0 + 40_000 if state != "alerting" else None,
            end_time=end,
            communications=(
                Communication(
                    id=f"{cid}-c4",
                    media_type="voice",
                    state=state,
                    held=False,
                    confined=False,
                    direction="inbound",
                    acw_state=acw,
                ),
            ),
        )

    steps = [
        (t0 + 100, (cust, ivr_on)),
        (t0 + 20_010, (cust, ivr_off, acd)),
        (t0 + 35_000, (cust, ivr_off, acd, agent("alerting"))),
        (t0 + 40_000, (cust, ivr_off, acd_off, agent("connected"))),
        (t0 + 90_000, (cust, ivr_off, acd_off, agent("disconnected", t0 + 90_000, "pending"))),
    ]
    return [
        ConversationEvent(
            event_id=f"{cid}-{i:02d}-{'f' * 48}",
            conversation_id=cid,
            event_time=t,
            received_at=t + 5,
            source="simulator",
            topic_name="v2.routing.queues.Q1.conversations",
            topic_pattern="v2.routing.queues.{id}.conversations",
            body=ConversationSnapshot(participants=parts, external_tag="tag", division_ids=("D1",)),
        )
        for i, (t, parts) in enumerate(steps)
    ]


def build_events(count: int, seed: int = 7) -> list[ConversationEvent]:
    """``count`` events (rounded up to whole conversations), conversations interleaved."""
    rng = random.Random(seed)  # noqa: S311 - benchmark data, not security
    convs = [_conversation(n, 1_735_725_600_000 + rng.randrange(3_600_000)) for n in range(-(-count // 5))]
    cursors = [0] * len(convs)
    out: list[ConversationEvent] = []
    live = list(range(len(convs)))
    while live:
        j = rng.randrange(len(live))
        n = live[j]
        out.append(convs[n][cursors[n]])
        cursors[n] += 1
        if cursors[n] == len(convs[n]):
            live[j] = live[-1]
            live.pop()
    return out


def _run(events: list[ConversationEvent]) -> tuple[float, float]:
    """Fold all events into fresh states; returns (wall seconds, this process's CPU seconds)."""
    states: dict[str, ConversationState] = {}
    get = states.get
    start, cpu = time.perf_counter(), time.process_time()
    for e in events:
        states[e.conversation_id] = fold(get(e.conversation_id), e)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    events = build_events(args.events)
    if args.profile:
        cProfile.runctx("_run(events)", globals(), {"events": events, "_run": _run}, PROFILE_PATH)
        pstats.Stats(PROFILE_PATH).sort_stats("tottime").print_stats(15)
        return
    n = len(events)
    for label in ("default gc", "inputs frozen (gc.freeze)", "frozen + gc threshold 100k"):
        if label.startswith("inputs"):
            gc.collect()
            gc.freeze()  # the pre-built input events are not the fold's garbage to scan
        if label.startswith("frozen +"):
            gc.set_threshold(100_000, 50, 100)  # what a consumer process would run with
        wall, cpu = min(_run(events) for _ in range(args.repeat))
        print(
            f"{label}: {n} events, best of {args.repeat}: wall {wall:.3f} s = {n / wall:,.0f} events/s; "
            f"cpu {cpu:.3f} s = {n / cpu:,.0f} events/s; load {os.getloadavg()[0]:.1f}/{os.cpu_count()} cpus"
        )


if __name__ == "__main__":
    main()
