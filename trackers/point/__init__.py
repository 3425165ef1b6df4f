"""Point trackers behind one contract (`trackers.point.base.PointTracker`): weight-free OpenCV ones in
`opencv.py`, one subpackage per neural tracker (`<name>/tracker.py` our protocol, `<name>/net.py` the network)."""
