"""The benchmark harness (``make bench`` = ``python -m bench [--quick]``; BENCHMARKS.md).

Runs every scenario against the local stack in one process run, prints a table, writes
``bench/results/<UTC timestamp>.json`` and regenerates ``BENCHMARKS.md``. Never imported by ``consumer``.
"""

__all__: list[str] = []
