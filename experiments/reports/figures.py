"""The plots and images of the run report and the comparison page, written as PNG files.

Plots use matplotlib's Agg backend; images are frames with masks blended in (`experiments.visualize`):
ground truth and prediction side by side, with the tracked points where the run saved them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
from PIL import Image

from infra.files import atomic_write
from experiments.visualize import draw_points, overlay

PANEL_HEIGHT = 240  # pixels of each image panel
CAPTION_HEIGHT = 22


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: Path) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    plt = _pyplot()
    figure.tight_layout()
    atomic_write(path, lambda temporary: figure.savefig(temporary, format="png", dpi=100))
    plt.close(figure)
    return path


def write_png(path: Path, image: np.ndarray) -> Path:
    """An (H, W, 3) uint8 RGB image as PNG, atomically."""
    picture = Image.fromarray(np.asarray(image, np.uint8), mode="RGB")
    return atomic_write(path, lambda temporary: picture.save(temporary, format="PNG", optimize=True))


def plot_object_scores(names: Sequence[str], values: Sequence[float], path: Path, metric: str = "J&F") -> Path:
    """Horizontal bars of one score per object, worst at the top."""
    plt = _pyplot()
    order = np.argsort(np.nan_to_num(np.asarray(values, dtype=np.float64), nan=-1.0))
    figure, axis = plt.subplots(figsize=(5.5, max(2.0, 0.25 * len(names) + 1.0)))
    axis.barh(range(len(order)), [values[i] for i in order], color="#4a7fb5")
    axis.set_yticks(range(len(order)), [names[i] for i in order], fontsize=8)
    axis.invert_yaxis()
    axis.set_xlim(0, 1)
    axis.set_xlabel(metric)
    axis.grid(axis="x", alpha=0.3)
    return save_figure(figure, path)


def normalised_time(length: int) -> np.ndarray:
    """Positions in [0, 1] of ``length`` scored frames (first scored frame 0, last 1)."""
    return np.linspace(0.0, 1.0, length) if length > 1 else np.zeros(length)


def mean_curve(curves: Sequence[np.ndarray], points: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """The mean of curves of different lengths over normalised time (each interpolated on one grid)."""
    grid = np.linspace(0.0, 1.0, points)
    stacked = np.array([np.interp(grid, normalised_time(len(curve)), curve) for curve in curves if len(curve)])
    return grid, np.nanmean(stacked, axis=0) if len(stacked) else np.full(points, np.nan)


def plot_decay(curves: Sequence[np.ndarray], path: Path) -> Path:
    """Per-frame J of every object over normalised time (thin) and their mean (thick): the decay curve."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.5))
    for curve in curves:
        axis.plot(normalised_time(len(curve)), curve, color="#999999", linewidth=0.7, alpha=0.6)
    grid, mean = mean_curve(curves)
    axis.plot(grid, mean, color="#c0392b", linewidth=2.2, label="mean over objects")
    return _save_unit_plot(figure, axis, "normalised time (first to last scored frame)", "J (IoU)", path)


def plot_iou_histogram(values: np.ndarray, path: Path) -> Path:
    """Distribution of the per-frame IoU (J) of all objects and frames."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.5))
    axis.hist(np.asarray(values, dtype=np.float64), bins=np.linspace(0, 1, 21), color="#4a7fb5", edgecolor="white")
    axis.set_xlabel("per-frame J (IoU)")
    axis.set_ylabel("object-frames")
    axis.grid(axis="y", alpha=0.3)
    return save_figure(figure, path)


def plot_precision_recall(recall_grid: np.ndarray, curves: dict[str, np.ndarray], path: Path) -> Path:
    """Precision over recall, one curve per label (e.g. per IoU threshold)."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 4.0))
    for label, precision in curves.items():
        axis.plot(recall_grid, precision, label=label)
    return _save_unit_plot(figure, axis, "recall", "precision", path)


def _save_unit_plot(figure, axis, xlabel: str, ylabel: str, path: Path) -> Path:
    """Axes over [0, 1] x [0, 1] with labels, legend and grid; saved to ``path``."""
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.02)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.legend(loc="lower left")
    axis.grid(alpha=0.3)
    return save_figure(figure, path)


def _fit_height(image: np.ndarray, height: int = PANEL_HEIGHT) -> np.ndarray:
    scale = height / image.shape[0]
    return cv2.resize(image, (max(1, round(image.shape[1] * scale)), height), interpolation=cv2.INTER_AREA)


def captioned(image: np.ndarray, caption: str) -> np.ndarray:
    """``image`` scaled to the panel height with a white caption bar above it."""
    panel = _fit_height(image)
    bar = np.full((CAPTION_HEIGHT, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, caption, (4, CAPTION_HEIGHT - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, panel], axis=0)


def side_by_side(panels: Sequence[np.ndarray], gap: int = 6) -> np.ndarray:
    """Panels of equal height next to each other with white gaps."""
    height = max(panel.shape[0] for panel in panels)
    spacer = np.full((height, gap, 3), 255, np.uint8)
    parts = []
    for panel in panels:
        parts += [panel, spacer]
    return np.concatenate(parts[:-1], axis=1)


def object_overlay(frame: np.ndarray, labels: np.ndarray, object_id: int) -> np.ndarray:
    """``frame`` with only ``object_id``'s pixels of ``labels`` blended in (its DAVIS colour)."""
    return overlay(frame, np.where(labels == object_id, object_id, 0).astype(np.uint8))


def with_points(image: np.ndarray, points: np.ndarray, visible: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Tracked (P, 2) points drawn as filled circles (hollow grey where the tracker lost them)."""
    count = len(points)
    colours = np.repeat(np.asarray(colour, np.uint8)[None], count, axis=0)
    return draw_points(image, points, visible, np.ones(count, bool), colours)
