"""Evaluation: benchmark suites run through the served candidate, code checked in a sandbox, and
the deploy gate. Runs in job workers only; importing this package imports nothing heavy."""
