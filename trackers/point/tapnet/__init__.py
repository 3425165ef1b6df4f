"""The tapnet point tracker: `tracker.py` (SAM-PT's wrapper: loading, resizing, scaling) and `net.py` (the network)."""
