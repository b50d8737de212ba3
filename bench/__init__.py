"""micromoments benchmarks (not timed tests): run them all with ``python -m bench`` (``make bench``).

Each benchmark module exposes ``run(options, progress) -> Section``; ``bench.__main__`` runs them,
prints progress to stderr and writes ``docs/BENCHMARKS.md``. A missed target is reported on that
page, never turned into a failing exit status: the machines are shared and noisy. Only a crash
(including a benchmark that finds it is measuring an error path) exits non-zero.

Benchmarks import ``app`` and ``chalicelib`` like any other client would, and never edit them.
"""
