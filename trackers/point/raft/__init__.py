"""The raft point tracker: `tracker.py` (loading, resizing, chaining) and, where it is ours, `net.py` (the network)."""
