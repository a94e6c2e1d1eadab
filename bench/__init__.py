"""Benchmarks of the whole bot on this machine, against the fake WeCom servers on loopback.

Run everything with `python -m bench` (see BENCHMARKS.md); each benchmark prints its
figures and a ratio against a baseline measured in the same run.
"""
