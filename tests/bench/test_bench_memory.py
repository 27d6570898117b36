"""The memory summary of the harness (``bench.scenarios.memory_from``): pure, nothing external."""

from __future__ import annotations

from bench.scenarios import MEMORY_WINDOW, memory_from


def _run(rss: list[float], per_second: int) -> dict[str, object]:
    samples = [(float(t), mb, t * per_second) for t, mb in enumerate(rss)]
    return {"rss_samples": samples, "rss_peak_mb": max(rss)}


def test_a_mark_is_the_median_around_its_first_sample_not_one_tooth_of_the_saw() -> None:
    saw = [120.0, 150.0] * 20  # the allocator's saw-tooth: one sample is either extreme
    out = memory_from(_run(saw, 1000), (10_000, 30_000))
    assert out["rss_mb_at_10000"] == 150.0  # 6 of the 11 samples around it are at the upper level
    assert out["rss_mb_sample_at_10000"] == saw[10]
    assert out["conversations_at_10000_sample"] == 10_000
    assert out["peak_mb"] == 150.0


def test_growth_shows_through_the_median() -> None:
    growing = [100.0 + t for t in range(60)]
    out = memory_from(_run(growing, 1000), (10_000, 50_000))
    assert out["rss_mb_at_10000"] == 110.0
    assert out["rss_mb_at_50000"] == 150.0
    assert MEMORY_WINDOW >= 1


def test_a_mark_not_reached_takes_the_first_sample_within_ten_percent_or_none() -> None:
    out = memory_from(_run([100.0, 101.0, 102.0, 103.0, 104.0], 23_000), (100_000, 1_000_000))
    assert out["conversations_at_100000_sample"] == 92_000
    assert out["rss_mb_at_1000000"] is None
