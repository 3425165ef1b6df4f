"""Segmenter backends behind `trackers.segmenters.base.Segmenter`."""
