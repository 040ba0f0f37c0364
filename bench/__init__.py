"""Benchmarks of gvcs (issue 2): a seeded story generator and the four measured figures.

Run them all with ``make bench`` (``BENCH_QUICK=1 make bench`` for a smoke run); see ``bench/README.md``.
"""
