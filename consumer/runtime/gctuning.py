"""Garbage-collector settings for batch work (the consumer loop, the offline fold, the bridge).

A batch allocates ~10^6 short-lived, acyclic objects (events, states) that reference counting frees on
its own; CPython's default gen-0 threshold (700) re-scans every live batch object many times per batch.
Measured: decode and state serialization 1.6-3x slower, the fold ~25 % slower (``scripts/fold_speed.py``);
the simulator 2.3x and normalization 1.7x slower (``scripts/bridge_speed.py``), the simulator's live model
of every open conversation being re-scanned too.
Objects alive at start-up (modules, schemas, generated codecs) are frozen out of the scans.
"""

from __future__ import annotations

import gc
from typing import Final

__all__ = ["GEN0_THRESHOLD", "tune_gc_for_batches"]

GEN0_THRESHOLD: Final = 200_000


def tune_gc_for_batches() -> None:
    """Freeze start-up objects and make cyclic collections rare (call once, after start-up)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, 50, 100)
