"""The benchmark harness: ``python -m bench.run`` writes BENCHMARKS.md (see bench/README.md)."""
