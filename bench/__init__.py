"""Benchmarks (`make bench`); figures in bench/RESULTS.md."""
