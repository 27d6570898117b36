"""A sampler that runs on a daemon thread for the length of a ``with`` block (the harness's pollers)."""

from __future__ import annotations

import threading
from typing import Self

__all__ = ["Background"]


class Background:
    """Subclasses implement :meth:`_run`, looping until ``self._stop`` is set (``self._stop.wait(s)``
    between samples); ``with`` starts the thread and, on exit, stops it and waits up to 10 s."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        raise NotImplementedError
