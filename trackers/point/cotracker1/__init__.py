"""The CoTracker v1 point tracker (SAM-PT's default): `tracker.py` (loading, resizing, both directions) and `net.py`."""
