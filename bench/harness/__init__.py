"""The benchmark harness of ``bench/run.py``: servers, seeding, sign-in, load, report."""
