"""The superglue point tracker (Table 2a): `superpoint.py` and `superglue.py` (the networks, ours) and `tracker.py`."""
