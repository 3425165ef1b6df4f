"""Test and benchmark oracles (straightforward re-implementations of the official code) and the recorded official
state-dict key lists. Not installed: used by tests/ and scripts/ only."""
