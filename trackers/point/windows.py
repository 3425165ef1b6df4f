"""Frame features read window by window, and the warning of trackers whose memory grows with the video.

Trackers that chain windows over a video (PIPS, PIPS++, CoTracker3 online) ask `WindowFeatures` for the
features of one window's frames at a time; it encodes the frames in fixed chunks of the video and keeps only
the chunks the latest window touched, so memory is bounded by the window (plus a chunk at each end), not by
the video's length. TAPIR, whose every layer but the refinement's temporal convolutions works frame by frame,
runs in `halo_windows`: overlapping windows whose outputs are kept only where the convolutions' reach stays
inside the window, so the result equals the whole-video one; its windows only move forward, so it holds their
features in one tensor per level (`SlidingFeatures`). Trackers that must see the whole video at once
(offline CoTracker3) call `warn_long_video` instead.
"""
from __future__ import annotations

import logging
from typing import Callable, NamedTuple, Sequence

import torch

from infra.frames import FrameSource

logger = logging.getLogger(__name__)

#: (B, H, W, 3) uint8 CPU tensor of consecutive frames -> per pyramid level a (B, ...) feature tensor.
EncodeFn = Callable[[torch.Tensor], list[torch.Tensor]]
#: (S,) int64 frame indices -> per pyramid level an (S, ...) feature tensor (frames in the given order).
FeaturesFn = Callable[[torch.Tensor], list[torch.Tensor]]


def _empty_frames(like: torch.Tensor, frames: int) -> torch.Tensor:
    """An uninitialised (frames, ...) tensor in ``like``'s memory layout: channels-last features (the point
    encoders' convolutions write them so) stay channels-last, where a bilinear read of a point gathers its
    channels from one place instead of one plane each."""
    channels_last = like.dim() == 4 and not like.is_contiguous()
    layout = torch.channels_last if channels_last and like.is_contiguous(memory_format=torch.channels_last) else (
        torch.contiguous_format)
    return torch.empty((frames, *like.shape[1:]), dtype=like.dtype, device=like.device, memory_format=layout)


class WindowFeatures:
    """Per-frame features of a `FrameSource`, encoded on demand in chunks; holds only the latest window's chunks.

    Chunk k is frames ``[k * chunk, (k + 1) * chunk)`` of the video (the last one shorter): the same batches as
    encoding the whole video in chunks of ``chunk`` frames from frame 0, so every feature is bit-identical to
    that, whatever the order windows are asked for (forward, backward, repeated frames). Calling the object
    with the (S,) frame indices of a window returns its features and drops every chunk the window does not
    touch; a window of S consecutive frames thus holds at most S + 2 * (chunk - 1) frames of features.

    Args:
        source: the video.
        encode: see `EncodeFn` (the result may live on any device).
        chunk: frames per ``encode`` call.

    Attributes:
        frames_encoded: frames encoded so far (a frame dropped and asked for again is encoded again).
        most_frames_held: the most frames of features held at once so far.
    """

    def __init__(self, source: FrameSource, encode: EncodeFn, chunk: int):
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        self.source, self.encode, self.chunk = source, encode, chunk
        self._chunks: dict[int, list[torch.Tensor]] = {}
        self.frames_encoded = 0
        self.most_frames_held = 0

    def __call__(self, frames: torch.Tensor | Sequence[int]) -> list[torch.Tensor]:
        """(S,) frame indices -> per level (S, ...) features of those frames, in that order."""
        index = torch.as_tensor(frames).reshape(-1).long().cpu()
        if index.numel() == 0 or index.min() < 0 or index.max() >= self.source.num_frames:
            raise IndexError(f"frames {index.tolist()} outside the video's {self.source.num_frames} frames")
        needed = sorted(set((index // self.chunk).tolist()))
        for key in [key for key in self._chunks if key not in needed]:
            del self._chunks[key]
        for key in needed:
            if key not in self._chunks:
                start = key * self.chunk
                end = min(start + self.chunk, self.source.num_frames)
                # C-contiguous whatever the reader returns: a convolution over a permuted (channels-last)
                # buffer rounds differently, and the features must not depend on the caller's memory layout
                frames = torch.from_numpy(self.source.window(start, end)).contiguous()
                self._chunks[key] = self.encode(frames)
                self.frames_encoded += end - start
        held = sum(self._chunks[key][0].shape[0] for key in needed)
        self.most_frames_held = max(self.most_frames_held, held)
        levels = []
        for level in range(len(self._chunks[needed[0]])):
            parts = {key: self._chunks[key][level] for key in needed}
            out = _empty_frames(parts[needed[0]], len(index))
            for key, part in parts.items():
                positions = torch.nonzero(index // self.chunk == key).squeeze(1)
                out[positions.to(out.device)] = part[(index[positions] - key * self.chunk).to(out.device)]
            levels.append(out)
        return levels


class SlidingFeatures:
    """Per-frame features of windows that only move forward (e.g. `halo_windows`), held in one tensor per level.

    Each frame is read and encoded once, in chunks of ``chunk`` frames from frame 0 (the batches of
    `WindowFeatures`, so the features are bit-identical to it); calling the object with a window's
    ``[start, end)`` drops the frames before ``start`` and encodes up to ``end``. It holds the window plus at
    most ``chunk - 1`` frames encoded ahead, as one contiguous tensor per level: the window's features are
    views of it, not a second copy (which `WindowFeatures` must assemble for windows in any order).

    Args:
        source: the video.
        encode: see `EncodeFn` (the result may live on any device).
        chunk: frames per ``encode`` call.

    Attributes:
        frames_encoded: frames encoded so far; most_frames_held: the most frames of features held at once.
    """

    def __init__(self, source: FrameSource, encode: EncodeFn, chunk: int):
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        self.source, self.encode, self.chunk = source, encode, chunk
        self._levels: list[torch.Tensor] = []
        self._start = self._end = 0  # frames [_start, _end) are held
        self._last_start = 0
        self.frames_encoded = 0
        self.most_frames_held = 0

    def __call__(self, start: int, end: int) -> list[torch.Tensor]:
        """Per level the (end - start, ...) features of frames ``[start, end)``, views of the held tensors.

        Raises:
            IndexError when the window is empty, outside the video, or starts before the previous one."""
        if not 0 <= start < end <= self.source.num_frames or start < self._last_start:
            raise IndexError(f"window [{start}, {end}) is empty, outside the video's {self.source.num_frames} "
                             f"frames or starts before the previous window's start {self._last_start}")
        self._last_start = start
        if start < self._end:  # keep the held frames from start on
            kept, base, next_frame = [level[start - self._start:] for level in self._levels], start, self._end
        else:  # nothing held is needed: start again at start's chunk
            kept, base = [], start // self.chunk * self.chunk
            next_frame = base
        parts = []
        while next_frame < end:
            chunk_end = min(next_frame + self.chunk, self.source.num_frames)
            frames = torch.from_numpy(self.source.window(next_frame, chunk_end)).contiguous()
            parts.append(self.encode(frames))
            self.frames_encoded += chunk_end - next_frame
            next_frame = chunk_end
        if parts:  # one tensor per level again; the old ones go once their kept frames are copied
            self._levels = [torch.cat(kept[i:i + 1] + [part[i] for part in parts]) for i in range(len(parts[0]))]
            self._start, self._end = base, next_frame
        self.most_frames_held = max(self.most_frames_held, self._end - self._start)
        return [level[start - self._start:end - self._start] for level in self._levels]


class HaloWindow(NamedTuple):
    """Frames ``[start, end)`` go into the network; its outputs for frames ``[core_start, core_end)`` are kept."""

    start: int
    end: int
    core_start: int
    core_end: int


def halo_windows(num_frames: int, window: int, halo: int) -> list[HaloWindow]:
    """Windows of at most ``window`` consecutive frames whose cores partition ``[0, num_frames)``, each core with
    ``halo`` input frames on both sides (fewer only where the video ends there).

    A network whose output at frame t depends only on frames ``[t - halo, t + halo]`` (and on the zero padding
    at the video's ends) gives the same outputs on each core as on the whole video. One window when the video
    fits; otherwise the first core is ``window - halo`` frames, the middle ones ``window - 2 * halo``, and
    frames in the overlaps are fed to the network more than once.

    Raises:
        ValueError when ``window <= 2 * halo`` (no frame would be far enough from both ends).
    """
    if halo < 0 or window <= 2 * halo:
        raise ValueError(f"a window of {window} frames leaves no frame {halo} frames from both of its ends; "
                         f"it must be longer than {2 * halo} frames")
    windows, core_start = [], 0
    while core_start < num_frames:
        start = max(0, core_start - halo)
        end = min(num_frames, start + window)
        core_end = end if end == num_frames else end - halo
        windows.append(HaloWindow(start, end, core_start, core_end))
        core_start = core_end
    return windows


def warn_long_video(tracker: str, num_frames: int, limit: int, why: str) -> None:
    """Log a warning when ``num_frames`` exceeds ``limit``, the length above which ``tracker``'s memory (which
    grows with the video for the reason ``why``) was measured to pass a few GiB."""
    if num_frames > limit:
        logger.warning("%s holds the whole video at once (%s): %d frames is above the %d it is measured for; "
                       "memory grows with the length and may run out (shorten the video or use a windowed "
                       "tracker)", tracker, why, num_frames, limit)
