"""How many examples each Hypothesis test runs: a quick budget by default, the full one in CI.

``CONVSTREAM_HYPOTHESIS_PROFILE=ci`` (set by ``make test``) runs every property test with the number of
examples written at its ``@settings(max_examples=examples(N))``; the default ``dev`` profile (plain
``pytest``, ``make unit``) runs a tenth of it, at least :data:`DEV_FLOOR`, so the unit tier takes seconds.
Tests without an explicit budget get Hypothesis' default (100) in CI and :data:`DEV_FLOOR` otherwise.
"""

from __future__ import annotations

import os
from typing import Final

from hypothesis import settings

__all__ = ["DEV_FLOOR", "PROFILE", "PROFILE_VARIABLE", "examples"]

PROFILE_VARIABLE: Final = "CONVSTREAM_HYPOTHESIS_PROFILE"
DEV_FLOOR: Final = 20
_PROFILES: Final = ("dev", "ci")

PROFILE: Final = os.environ.get(PROFILE_VARIABLE, "dev")
if PROFILE not in _PROFILES:
    raise RuntimeError(f"{PROFILE_VARIABLE}={PROFILE!r}: expected one of {', '.join(_PROFILES)}")

settings.register_profile("ci", max_examples=100)
settings.register_profile("dev", max_examples=DEV_FLOOR)
settings.load_profile(PROFILE)


def examples(full: int) -> int:
    """The ``max_examples`` of a test whose CI budget is ``full`` under the active profile."""
    if PROFILE == "ci":
        return full
    return min(full, max(DEV_FLOOR, full // 10))
