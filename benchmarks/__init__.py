"""Benchmarks: run as ``python -m benchmarks.NAME``; each prints its figures and the ratio
against a peer measured in the same run. Numbers live in BENCHMARKS.md, never in tests."""
