"""PIPS chained over a video the way SAM-PT's PIPS wrapper does it, kept as the point tracker of
`reference.pipeline` and as a test oracle for `trackers.point.pips.tracker.PipsTracker`.

Written from SAM-PT's ``PipsPointTracker`` (SysCV/sam-pt @874ff7e, ``sam_pt/point_tracker/pips/tracker.py``),
step by step and without our economies:

- the whole video is held in memory;
- the loop runs over frames; at a frame where some points' chain stands, PIPS is called on the 8 frames from
  there (the last frame repeated past the video's end) and encodes all 8 (`PipsNet.forward` from RGB, as
  PIPS's ``forward(rgbs=...)``): a frame is encoded once per window that covers it, and windows start wherever
  points jumped to;
- points whose query frame it is get their appearance feature from a first call of its own (``feat_init=None``:
  the window encoded and refined once more, only the feature kept), as the wrapper's ``feat_init`` pass;
- a point's chain then jumps to the furthest frame of the window whose visibility exceeds 0.9, found by the
  wrapper's search: step back from the window's last frame while the visibility is not above the threshold,
  and whenever the search passes the window's first frame, lower the threshold by 0.02 and start again;
- the same on the time-reversed video gives the frames before each query; visible = sigmoid(logit) > 0.5.

`trackers.point.pips.tracker.PipsTracker` (each frame encoded once per direction, the jump found without a
search) must give the same tracks: ``tests/trackers/point/test_reference_pips.py``.
"""
from __future__ import annotations

import numpy as np
import torch

from infra.frames import as_frame_source
from trackers.point.pips.net import LATENT_DIM, PipsNet


class ReferencePips:
    """See the module docstring.

    Args:
        net: the PIPS network (`PipsNet`; its ``window`` and ``stride`` are used).
        iters: refinement iterations per call (SAM-PT: 6).
        visibility_threshold, visibility_threshold_step, visible_threshold: SAM-PT's 0.9, 0.02, 0.5.
    """

    def __init__(self, net: PipsNet, iters: int = 6, visibility_threshold: float = 0.9,
                 visibility_threshold_step: float = 0.02, visible_threshold: float = 0.5):
        self.net, self.iters = net, iters
        self.visibility_threshold, self.step = visibility_threshold, visibility_threshold_step
        self.visible_threshold = visible_threshold
        self.device = next(net.parameters()).device

    @torch.inference_mode()
    def track(self, frames, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(T, H, W, 3) uint8 frames (or a `FrameSource`, read whole), (N, 3) (t, x, y) queries -> tracks
        (T, N, 2) float32 pixel (x, y), visible (T, N) bool."""
        video = torch.from_numpy(np.ascontiguousarray(as_frame_source(frames).all())).to(self.device)
        queries = torch.as_tensor(np.asarray(queries, np.float32), device=self.device)
        num_frames = video.shape[0]
        start = queries[:, 0].round().long()
        tracks_right, probs_right = self._one_direction(video, start, queries[:, 1:])
        tracks_left, probs_left = self._one_direction(video.flip(0), num_frames - 1 - start, queries[:, 1:])
        tracks_left, probs_left = tracks_left.flip(0), probs_left.flip(0)
        tracks = tracks_right.clone()
        probs = probs_right.clone()
        for n in range(len(start)):  # frames before the query from the reversed pass, the rest forward
            tracks[:start[n], n] = tracks_left[:start[n], n]
            probs[:start[n], n] = probs_left[:start[n], n]
        return tracks.cpu().numpy().astype(np.float32), (probs > self.visible_threshold).cpu().numpy()

    def _window(self, video: torch.Tensor, frame: int) -> tuple[torch.Tensor, int]:
        """(1, S, 3, H, W) the S frames from ``frame`` (the last repeated past the end), and how many are real."""
        size = self.net.window
        window = video[frame:frame + size]
        real = window.shape[0]
        if real < size:
            window = torch.cat([window, window[-1:].expand(size - real, *window.shape[1:])])
        return window.permute(0, 3, 1, 2)[None], real

    def _one_direction(self, video: torch.Tensor, start: torch.Tensor, xy: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward in time from each point's query frame: (T, N, 2) tracks, (T, N) visibility probabilities."""
        num_frames, num_points = video.shape[0], xy.shape[0]
        points = torch.arange(num_points, device=self.device)
        tracks = torch.zeros(num_frames, num_points, 2, device=self.device)
        probs = torch.zeros(num_frames, num_points, device=self.device)
        tracks[start, points] = xy
        probs[start, points] = 1.0
        feat_init = torch.zeros(1, num_points, LATENT_DIM, device=self.device)
        current = start.clone()
        for frame in range(num_frames - 1):
            here = current == frame
            if not here.any():
                continue
            window, real = self._window(video, frame)
            starting = start == frame
            if starting.any():  # the feat_init pass: a call of its own, only its point features kept
                _, _, feat_init[:, starting] = self.net(tracks[frame, starting][None], window, self.iters)
            trajectories, logits, _ = self.net(tracks[frame, here][None], window, self.iters, feat_init[:, here])
            tracks[frame + 1:frame + real, here] = trajectories[-1][0, 1:real]
            probs[frame + 1:frame + real, here] = torch.sigmoid(logits[0, 1:real])
            current[here] = self._next_frames(probs, frame, real, here)[here]
        return tracks, probs

    def _next_frames(self, probs: torch.Tensor, frame: int, real: int, here: torch.Tensor) -> torch.Tensor:
        """SAM-PT's search for the next window start of the points ``here`` (N,) bool (others: unchanged)."""
        points = torch.arange(probs.shape[1], device=self.device)
        threshold = torch.where(here, self.visibility_threshold, 0.0).float()
        earliest = torch.full_like(points, frame + 1)
        last = torch.full_like(points, frame + real - 1)
        chosen = torch.where(here, last, frame)
        while True:
            below = probs[chosen, points] <= threshold
            if not (below & here).any():
                return chosen
            chosen = torch.where(below & here, chosen - 1, chosen)
            passed = here & (chosen < earliest)
            threshold = torch.where(passed, threshold - self.step, threshold)
            chosen = torch.where(passed, last, chosen)
