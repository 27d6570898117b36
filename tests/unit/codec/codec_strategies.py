"""Hypothesis strategies for the domain's event dataclasses, shared by the codec tests.

Every field is drawn from its annotation (optional ones null or set): Unicode of every plane (surrogates
excluded: not valid UTF-8), long strings (multi-byte length varints) and the one-byte/two-byte varint
boundaries of ints.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from hypothesis import strategies as st

from consumer.domain.events import (
    Communication,
    ConversationEvent,
    ConversationSnapshot,
    DetailEvent,
    Participant,
)

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1

text = (
    st.text(max_size=8) | st.text(min_size=60, max_size=200) | st.sampled_from(["", "é", "日本語🎧", "\x00"])
)
longs = (
    st.integers(min_value=LONG_MIN, max_value=LONG_MAX)
    | st.sampled_from(
        [0, -1, 63, -64, 64, -65, 8191, 8192, LONG_MIN, LONG_MAX, 1_735_718_405_910, -1_735_718_405_910]
    )
    | st.integers(min_value=2**34, max_value=2**42)
)
finite_or_infinite = st.floats(allow_nan=False) | st.sampled_from([0.0, -0.0, math.inf, -math.inf, 5e-324])
with_nan = st.floats() | st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324])
maps = st.dictionaries(text, text, max_size=4)
ids = text.filter(lambda s: bool(s) and "\x00" not in s)  # decode_event rejects empty or NUL ids
SOURCES = st.sampled_from(["notifications", "eventbridge", "analytics", "simulator", "file"])


def builds(
    cls: type, nested: dict[str, st.SearchStrategy[Any]] | None = None, *, doubles: st.SearchStrategy[float]
) -> st.SearchStrategy[Any]:
    """Every field of ``cls`` drawn from its annotation, nested types from ``nested``."""
    by_annotation: dict[str, st.SearchStrategy[Any]] = {
        "str": text,
        "str | None": st.none() | text,
        "int": longs,
        "int | None": st.none() | longs,
        "bool | None": st.none() | st.booleans(),
        "float | None": st.none() | doubles,
        "Mapping[str, str]": maps,
        "tuple[str, ...]": st.lists(text, max_size=3).map(tuple),
    }
    nested = nested or {}
    kwargs = {
        f.name: nested[f.name] if f.name in nested else by_annotation[str(f.type)]
        for f in dataclasses.fields(cls)
    }
    return st.builds(cls, **kwargs)


def events(
    *, doubles: st.SearchStrategy[float], event_ids: st.SearchStrategy[str] = text
) -> st.SearchStrategy[ConversationEvent]:
    """Whole events: snapshots (up to 3 participants × 3 communications) or detail events."""
    communications = builds(Communication, doubles=doubles)
    participants = builds(
        Participant, {"communications": st.lists(communications, max_size=3).map(tuple)}, doubles=doubles
    )
    snapshots = builds(
        ConversationSnapshot, {"participants": st.lists(participants, max_size=3).map(tuple)}, doubles=doubles
    )
    nested = {
        "event_id": event_ids,
        "conversation_id": event_ids,
        "source": SOURCES,
        "body": snapshots | builds(DetailEvent, doubles=doubles),
    }
    strategy: st.SearchStrategy[ConversationEvent] = builds(ConversationEvent, nested, doubles=doubles)
    return strategy
