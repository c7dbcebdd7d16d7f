"""Benchmarks for spectroset: `python -m bench` (or `make bench`)."""
