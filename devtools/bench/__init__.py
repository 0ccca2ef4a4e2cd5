"""Benchmarks: commands that print figures (time, CPU seconds, memory, throughput), never tests."""
