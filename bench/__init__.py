"""Benchmarks that time ntkviz against naive references and print ratios (``python -m bench``)."""
