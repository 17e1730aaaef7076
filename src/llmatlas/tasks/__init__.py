"""Benchmarks and user tasks: documents, prompts and per-sample metrics."""
