"""Benchmarks: speed and memory measured here and recorded in BENCHMARKS.md, never in tests."""
