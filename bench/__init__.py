"""Benchmark harness of talon-relay: `make bench` (or `python -m bench`) prints one table.

Cold start, warm overhead, batch throughput, memory and package size of the five functions, each a
median over repeated runs measured side by side with its baseline in the same run (the official
Talon.One SDK, a bare urllib3 script, or raw urllib3 calls). See bench/README.md.

Kept out of the test suite on purpose: nothing here is named test_*.py.
"""
