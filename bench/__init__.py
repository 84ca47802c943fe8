"""Benchmarks: ``python -m bench.run [name ...]`` prints JSON (see bench/run.py)."""
