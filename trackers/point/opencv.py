"""Weight-free point trackers built on OpenCV: pyramidal Lucas-Kanade (`lk`) and chained dense DIS flow (`flow`).

Both follow the `PointTracker` contract (see `trackers.point.base`): frames (T, H, W, 3) uint8 RGB, queries
(N, 3) float (t, x, y) with any query frame t; they return tracks (T, N, 2) float32 pixel (x, y) and visible
(T, N) bool. Pixel centres are at integer coordinates (x = column index, y = row index).

How a video is tracked (in memory that does not grow with the video):
  - Frames are read from a `infra.frames.FrameSource` when a step needs them and converted to grey
    (RGB -> grey); only the two frames of the current step are held (`GreyFrames`), so a frame is decoded
    once per sweep that passes it.
  - One forward sweep over frames t = min(query t) .. T-1 moves every point whose query frame is <= t one frame
    on (t -> t+1); one backward sweep over t = max(query t) .. 0 moves every point whose query frame is >= t
    one frame back (t -> t-1), i.e. the reversed sequence. Each step is one vectorised call for all moving
    points, whatever their query frames; there is no per-point Python loop.
  - A step is accepted for a point only if it passes a forward-backward consistency check: the point is moved
    a -> b, the result is moved back b -> a, and the distance to the start must be <= `fb_threshold` pixels;
    the new position must also lie inside the frame (0 <= x <= W-1, 0 <= y <= H-1) and be finite.

What happens after a point is lost (a step fails): the point stays NOT visible for the rest of that sweep
(later frames in the forward sweep, earlier frames in the backward sweep) and keeps its last accepted
position. It is never re-found. Rationale: SAM-PT prompts SAM only with visible points, so a wrong visible
point (e.g. one that slid onto the occluder, or re-appeared on the wrong surface) turns directly into a wrong
positive prompt, while a missing point costs little when the object's other points are still tracked. Neither
local method can re-identify a surface after an occlusion reliably (the position they carry during the
occlusion follows whatever covers the point), so re-finding would mostly produce wrong prompts; SAM-PT's
re-initialisation (sampling new points from the predicted mask) is the mechanism that restores points.
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from infra.frames import FrameSource
from trackers.point.base import PointTracker, check_track_source

#: A tracking step: (frame index a, frame index b, points (M, 2) float32 at frame a)
#: -> (points (M, 2) float32 at frame b, ok (M,) bool whether the step is accepted).
StepFn = Callable[[int, int, np.ndarray], tuple[np.ndarray, np.ndarray]]

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


class GreyFrames:
    """(H, W) uint8 grey frames of a `FrameSource`, converted on demand; holds the ``keep`` latest used.

    A sweep moves one frame at a time, so two held frames (the step's a and b) decode each frame once.
    """

    def __init__(self, source: FrameSource, keep: int = 2):
        self.source = source
        self.keep = keep
        self._held: dict[int, np.ndarray] = {}

    def __call__(self, t: int) -> np.ndarray:
        if t not in self._held:
            if len(self._held) >= self.keep:
                del self._held[next(iter(self._held))]
            frame = np.ascontiguousarray(self.source.frame(t))
            self._held[t] = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        return self._held[t]


def inside_frame(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """(M, 2) (x, y) -> (M,) bool: finite and within [0, W-1] x [0, H-1]."""
    x, y = points[:, 0], points[:, 1]
    return np.isfinite(x) & np.isfinite(y) & (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


def bilinear_sample(field: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Sample a (H, W, C) float field at sub-pixel (M, 2) (x, y) positions -> (M, C) float32.

    Positions are clamped to the frame (the border value is repeated outside it).
    """
    height, width = field.shape[:2]
    x = np.clip(points[:, 0].astype(np.float64), 0, width - 1)
    y = np.clip(points[:, 1].astype(np.float64), 0, height - 1)
    x0 = np.minimum(np.floor(x).astype(np.int64), width - 2) if width > 1 else np.zeros(len(x), np.int64)
    y0 = np.minimum(np.floor(y).astype(np.int64), height - 2) if height > 1 else np.zeros(len(y), np.int64)
    x1 = np.minimum(x0 + 1, width - 1)
    y1 = np.minimum(y0 + 1, height - 1)
    wx = (x - x0)[:, None]
    wy = (y - y0)[:, None]
    top = field[y0, x0] * (1 - wx) + field[y0, x1] * wx
    bottom = field[y1, x0] * (1 - wx) + field[y1, x1] * wx
    return (top * (1 - wy) + bottom * wy).astype(np.float32)


def sweep(num_frames: int, query_t: np.ndarray, query_xy: np.ndarray, step: StepFn, forward: bool
          ) -> tuple[np.ndarray, np.ndarray]:
    """Move every point one frame at a time away from its query frame, in one direction.

    Args:
        num_frames: T.
        query_t: (N,) int query frame of each point.
        query_xy: (N, 2) float32 query position of each point.
        step: moves a batch of points from frame a to frame b (see `StepFn`).
        forward: True to go from the query frames towards T-1, False towards 0.

    Returns:
        tracks (T, N, 2) float32 and visible (T, N) bool, meaningful only on the frames of this direction
        (t >= query t forward, t <= query t backward); elsewhere tracks hold the query position, visible False.
    """
    n = len(query_t)
    tracks = np.repeat(query_xy[None].astype(np.float32), num_frames, axis=0)
    visible = np.zeros((num_frames, n), bool)
    if n == 0:
        return tracks, visible
    position = query_xy.astype(np.float32).copy()
    alive = np.zeros(n, bool)
    if forward:
        order = range(int(query_t.min()), num_frames)
    else:
        order = range(int(query_t.max()), -1, -1)
    previous = None
    for t in order:
        if previous is not None:
            moving = np.flatnonzero(alive)
            if moving.size:
                moved, ok = step(previous, t, position[moving])
                position[moving[ok]] = moved[ok]
                alive[moving[~ok]] = False
        starting = query_t == t
        position[starting] = query_xy[starting]
        alive[starting] = True
        tracks[t] = position
        visible[t] = alive
        previous = t
    return tracks, visible


def track_both_directions(num_frames: int, queries: np.ndarray, step: StepFn) -> tuple[np.ndarray, np.ndarray]:
    """Forward sweep for frames >= each query frame, backward sweep for earlier frames.

    Args:
        num_frames: T.
        queries: (N, 3) float32 (t, x, y), t already validated.
        step: see `StepFn`.

    Returns:
        tracks (T, N, 2) float32, visible (T, N) bool.
    """
    query_t = queries[:, 0].astype(np.int64)
    query_xy = queries[:, 1:3].astype(np.float32)
    if len(queries) == 0:
        return np.zeros((num_frames, 0, 2), np.float32), np.zeros((num_frames, 0), bool)
    forward_tracks, forward_visible = sweep(num_frames, query_t, query_xy, step, forward=True)
    if (query_t > 0).any():
        backward_tracks, backward_visible = sweep(num_frames, query_t, query_xy, step, forward=False)
    else:
        backward_tracks, backward_visible = forward_tracks, forward_visible
    after_query = np.arange(num_frames)[:, None] >= query_t[None, :]
    tracks = np.where(after_query[..., None], forward_tracks, backward_tracks).astype(np.float32)
    visible = np.where(after_query, forward_visible, backward_visible)
    return tracks, visible


def check_finite_queries(queries: np.ndarray) -> None:
    """Raise a ValueError naming the offending rows if any (N, 3) query value is NaN or infinite."""
    bad = np.flatnonzero(~np.isfinite(queries).all(axis=1))
    if bad.size:
        raise ValueError(f"queries must be finite (t, x, y); rows {bad[:10].tolist()} are not: {queries[bad[:3]].tolist()}")


def _positive(name: str, value: float) -> float:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


class ChainedGreyTracker(PointTracker):
    """A weight-free tracker that moves points one frame at a time on grey frames (`track_both_directions`);
    subclasses say how one step a -> b moves points (`make_step`)."""

    def make_step(self, grey: GreyFrames, height: int, width: int):
        """``step(a, b, points (M, 2)) -> (moved (M, 2) float32, ok (M,) bool)`` for one video."""
        raise NotImplementedError

    def track(self, frames: np.ndarray | FrameSource, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """See `PointTracker.track`: frames (T, H, W, 3) uint8 or a `FrameSource` (read two at a time),
        queries (N, 3) (t, x, y) -> tracks (T, N, 2) float32, visible (T, N) bool."""
        source, queries = check_track_source(frames, queries)
        check_finite_queries(queries)
        step = self.make_step(GreyFrames(source), *source.frame_size)
        return track_both_directions(source.num_frames, queries, step)


class LucasKanadeTracker(ChainedGreyTracker):
    """Pyramidal Lucas-Kanade (`cv2.calcOpticalFlowPyrLK`) chained frame to frame, with a forward-backward check.

    Args:
        win_size: side of the square LK search window in pixels (>= 3).
        max_level: number of pyramid levels above the full resolution (0 = no pyramid).
        max_iterations: LK iteration limit per level (termination criterion COUNT).
        epsilon: LK termination when the update is below this many pixels (criterion EPS).
        fb_threshold: a step is rejected when moving the point forward then back lands more than this many
            pixels from where it started; the point is then not visible from that frame on (module docstring).
        min_eig_threshold: OpenCV's `minEigThreshold`: LK reports failure (status 0) for windows whose minimum
            eigenvalue of the spatial-gradient matrix, divided by the window area, is below it (textureless).

    Defaults (window 15, fb 0.5 px) were chosen on synthetic videos where a textured occluder moving 8 px/frame
    slides over a textured object (4 seeds, 60 points, 12 frames, 240 covered point-frames each): covered
    point-frames still reported visible were 14/8/19/0 with (15, 0.5), 10/19/53/0 with (21, 0.5) and
    20/22/57/5 with (21, 1.0). Known limitation: LK's window can lock onto a strongly textured occluder edge
    and then follow the occluder with a consistent forward-backward error, so a few covered points stay
    "visible" (dense flow is captured less: 4/4/2/3 with fb 0.5). Unoccluded accuracy is unchanged (mean
    error ~0.2 px over 10 frames).
    """

    def __init__(self, win_size: int = 15, max_level: int = 3, max_iterations: int = 30, epsilon: float = 0.01,
                 fb_threshold: float = 0.5, min_eig_threshold: float = 1e-4):
        if int(win_size) != win_size or win_size < 3:
            raise ValueError(f"win_size must be an integer >= 3, got {win_size!r}")
        if int(max_level) != max_level or max_level < 0:
            raise ValueError(f"max_level must be an integer >= 0, got {max_level!r}")
        if int(max_iterations) != max_iterations or max_iterations < 1:
            raise ValueError(f"max_iterations must be an integer >= 1, got {max_iterations!r}")
        self.win_size = int(win_size)
        self.max_level = int(max_level)
        self.criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, int(max_iterations),
                         _positive("epsilon", float(epsilon)))
        self.fb_threshold = _positive("fb_threshold", float(fb_threshold))
        self.min_eig_threshold = _positive("min_eig_threshold", float(min_eig_threshold))

    def _lk(self, image_a: np.ndarray, image_b: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(M, 2) points in image a -> (M, 2) float32 points in image b, (M,) bool LK status."""
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            image_a, image_b, points.reshape(-1, 1, 2).astype(np.float32), None,
            winSize=(self.win_size, self.win_size), maxLevel=self.max_level, criteria=self.criteria,
            minEigThreshold=self.min_eig_threshold)
        return moved.reshape(-1, 2).astype(np.float32), status.reshape(-1).astype(bool)

    def make_step(self, grey: GreyFrames, height: int, width: int):
        def step(a: int, b: int, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            moved, status_ab = self._lk(grey(a), grey(b), points)
            returned, status_ba = self._lk(grey(b), grey(a), moved)
            fb_error = np.linalg.norm(returned - points, axis=1)
            ok = status_ab & status_ba & (fb_error <= self.fb_threshold) & inside_frame(moved, height, width)
            return moved, ok

        return step


class DenseFlowTracker(ChainedGreyTracker):
    """Points moved by chained dense optical flow (OpenCV DIS) sampled bilinearly, with a forward-backward check.

    For each step a -> b the flows a->b and b->a are computed on the grey frames; a point p moves to
    q = p + F_ab(p) and is kept only if |F_ab(p) + F_ba(q)| <= `fb_threshold` pixels (occlusion check) and q
    lies inside the frame. Flows are computed only for the frame pairs a sweep needs and are not cached, so the
    pairs between the earliest and the latest query frame are computed by both sweeps.

    Args:
        preset: DIS preset, one of `DIS_PRESETS` ("ultrafast", "fast", "medium").
        finest_scale: finest pyramid level DIS computes flow at; 0 = full resolution (default). None keeps the
            preset's own value (2 for ultrafast/fast, 1 for medium), which computes flow at 1/4 or 1/2
            resolution and upsamples it; on a 48 px object moving by (3, 1.5) px that underestimated the motion
            (medium: 2.93 px, fast: 2.14 px) and the error accumulates along the chain, while 0 gave 2.99 px.
        variational_refinement_iterations: override the preset's number of variational refinement
            iterations (None keeps the preset's).
        fb_threshold: forward-backward flow error in pixels above which a point is lost.
    """

    def __init__(self, preset: str = "medium", finest_scale: int | None = 0,
                 variational_refinement_iterations: int | None = None, fb_threshold: float = 0.5):
        if preset not in DIS_PRESETS:
            raise ValueError(f"unknown DIS preset {preset!r}; valid presets: {', '.join(DIS_PRESETS)}")
        if finest_scale is not None and (int(finest_scale) != finest_scale or finest_scale < 0):
            raise ValueError(f"finest_scale must be None or an integer >= 0, got {finest_scale!r}")
        if variational_refinement_iterations is not None and (
                int(variational_refinement_iterations) != variational_refinement_iterations
                or variational_refinement_iterations < 0):
            raise ValueError("variational_refinement_iterations must be None or an integer >= 0, "
                             f"got {variational_refinement_iterations!r}")
        self.preset = preset
        self.finest_scale = finest_scale
        self.variational_refinement_iterations = variational_refinement_iterations
        self.fb_threshold = _positive("fb_threshold", float(fb_threshold))

    def _dis(self) -> cv2.DISOpticalFlow:
        dis = cv2.DISOpticalFlow_create(DIS_PRESETS[self.preset])
        if self.finest_scale is not None:
            dis.setFinestScale(int(self.finest_scale))
        if self.variational_refinement_iterations is not None:
            dis.setVariationalRefinementIterations(int(self.variational_refinement_iterations))
        return dis

    def make_step(self, grey: GreyFrames, height: int, width: int):
        dis = self._dis()

        def step(a: int, b: int, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            flow_ab = dis.calc(grey(a), grey(b), None)
            flow_ba = dis.calc(grey(b), grey(a), None)
            displacement = bilinear_sample(flow_ab, points)
            moved = points + displacement
            back = bilinear_sample(flow_ba, moved)
            fb_error = np.linalg.norm(displacement + back, axis=1)
            ok = (fb_error <= self.fb_threshold) & inside_frame(moved, height, width)
            return moved.astype(np.float32), ok

        return step
