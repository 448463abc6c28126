"""Benchmarks you can rerun; each prints ratios against a baseline measured in the same run."""
