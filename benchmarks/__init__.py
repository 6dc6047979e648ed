"""tevo-bridge benchmarks: ``python -m benchmarks`` (``--quick`` for a smoke run).

Every figure is a ratio against a baseline measured in the same run, on the same
machine: see ``BENCHMARKS.md`` at the repository root for the last full run.
"""
