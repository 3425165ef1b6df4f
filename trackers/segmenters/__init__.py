"""Segmenter backends behind `trackers.segmenter.Segmenter`."""
