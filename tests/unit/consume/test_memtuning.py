"""glibc malloc thresholds for the consumer's RSS (consumer.consume.memtuning)."""

from __future__ import annotations

import platform

import pytest

from consumer.consume.memtuning import MMAP_THRESHOLD, TRIM_THRESHOLD, tune_malloc_for_rss


@pytest.fixture(autouse=True)
def _no_operator_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)


def test_sets_both_thresholds_with_mallopt() -> None:
    calls: list[tuple[int, int]] = []

    def mallopt(param: int, value: int) -> int:
        calls.append((param, value))
        return 1

    assert tune_malloc_for_rss(mallopt) is True
    assert calls == [(-3, MMAP_THRESHOLD), (-1, TRIM_THRESHOLD)]  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD


def test_a_refused_setting_is_reported() -> None:
    assert tune_malloc_for_rss(lambda _param, _value: 0) is False


@pytest.mark.parametrize("variable", ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"])
def test_the_operators_environment_wins(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "65536")
    calls: list[tuple[int, int]] = []

    def record(param: int, value: int) -> int:
        calls.append((param, value))
        return 1

    assert tune_malloc_for_rss(record) is False
    assert calls == []


def test_nothing_is_done_off_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "libc_ver", lambda: ("musl", "1.2"))
    assert tune_malloc_for_rss() is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_the_real_glibc_accepts_them() -> None:
    assert tune_malloc_for_rss() is True
