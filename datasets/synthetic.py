"""Deterministic synthetic benchmarks in every reader's on-disk layout, with the ground truth.

Each video: a textured, low-saturation background (smoothed noise at two scales) and ``num_objects``
textured, saturated objects (star-shaped blobs with stripes + smoothed noise, so point trackers have
corners to follow and a colour model separates them from the background). Every object moves with a
known per-frame 2x3 affine (translation, rotation, scale) from its canonical sprite to frame pixels,
objects are drawn in z-order (object k+1 over object k), and by construction

- object 1 ("anchor") wanders near the left centre;
- object 2 ("crosser") passes over the anchor (occlusion), leaves the frame on the left and re-enters;
  in layouts that allow it (``ytvos``, ``uvo``, ``folder``) it first appears after frame 0;
- objects 3.. ("drifters") drift and bounce inside the frame.

Pixel convention: xy in pixels of the frame, integer = pixel centre (OpenCV's convention).
Everything comes from one seeded ``numpy.random.Generator`` per video (``SeedSequence(seed).spawn``), so
the same parameters give byte-identical files.

    python -m datasets.synthetic --layout davis17 --out DIR [--seed 0] [--num-videos 2] ...
"""
from __future__ import annotations

import argparse
import colorsys
import hashlib
import json
import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from datasets.png import write_frame, write_label_png
from datasets.rle import encode_rle  # noqa: F401  (also this module's API)

LOGGER = logging.getLogger(__name__)

GENERATOR_VERSION = 1  # bump whenever the generated files change: it keys the embedded-default cache
LAYOUTS = ("davis17", "davis16", "ytvos", "mose", "uvo", "folder", "sav")
DEFAULT_SPLIT = {"davis17": "val", "davis16": "val", "ytvos": "valid", "mose": "valid", "uvo": "val",
                 "folder": "all", "sav": "val"}
LATE_START_LAYOUTS = ("ytvos", "uvo", "folder", "sav")
# layout -> a `datasets.registry` reader name that reads it
READER_FOR_LAYOUT = {"davis17": "davis17", "davis16": "davis16", "ytvos": "ytvos18", "mose": "mose", "uvo": "uvo",
                     "folder": "folder", "sav": "sav"}
YTVOS_STRIDE = 5  # YouTube-VOS keeps every 5th frame of the 30 fps video
SAV_STRIDE = 4  # SA-V annotates every 4th frame of the 24 fps video
# frames per video when not given: SA-V needs enough 24 fps frames for its every-4th-frame masks to see
# object 2 start late, leave the frame and come back
DEFAULT_NUM_FRAMES = {"sav": 48}
STRIDE = {"ytvos": YTVOS_STRIDE, "sav": SAV_STRIDE}
# VOST: sparse indexed annotations (every 5th frame), a void (255) ring around object 1
VOST_STRIDE = 5
LAYOUTS += ("vost",)
DEFAULT_SPLIT["vost"] = "val"
LATE_START_LAYOUTS += ("vost",)
READER_FOR_LAYOUT["vost"] = "vost"
DEFAULT_NUM_FRAMES["vost"] = 48
STRIDE["vost"] = VOST_STRIDE
# LVOS (v1/v2): frames numbered from 00000001, label maps on every 5th, a meta file with each object's frame
# range and the unseen-video list (every second video unseen); 60 frames let object 2 start late, leave and return
LAYOUTS += ("lvos",)
DEFAULT_SPLIT["lvos"] = "valid"
LATE_START_LAYOUTS += ("lvos",)
READER_FOR_LAYOUT["lvos"] = "lvos"
LVOS_STRIDE = 5
DEFAULT_NUM_FRAMES["lvos"] = 60
STRIDE["lvos"] = LVOS_STRIDE
# MOSEv2 (valid): every frame annotated (the scorer needs the full ground truth) and a meta file with each video's
# length, size and object ids; 40 frames let object 2 start late, leave the frame and return
LAYOUTS += ("mosev2",)
DEFAULT_SPLIT["mosev2"] = "valid"
LATE_START_LAYOUTS += ("mosev2",)
READER_FOR_LAYOUT["mosev2"] = "mosev2"
DEFAULT_NUM_FRAMES["mosev2"] = 40
# XMem's Long-Time Video set (long_video_set): LV1 in long_video/ (label maps on every 5th frame), LV3 in
# long_video_x3/ (the same video played forward, backward, forward); every object starts on frame 0
LAYOUTS += ("long_video",)
DEFAULT_SPLIT["long_video"] = "val"
READER_FOR_LAYOUT["long_video"] = "lv1"
LONG_VIDEO_STRIDE = 5
LONG_VIDEO_REPEATS = 3

# BDD100K VOS (the authors' conversion of MOTS 2020): every frame annotated, frames named <seq>-<t:07d> from 1
LAYOUTS += ("bdd100k",)
DEFAULT_SPLIT["bdd100k"] = "val"
LATE_START_LAYOUTS += ("bdd100k",)
READER_FOR_LAYOUT["bdd100k"] = "bdd100k"
GREY_PALETTE = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
COMPLETE_MARKER = ".complete"
# the embedded default: objects move (translation, rotation, scale) and partly occlude each other, but
# stay inside the frame, so a weight-free tracker + segmenter can show the pipeline works
EMBEDDED_PARAMS = dict(layout="davis17", num_videos=3, num_frames=20, height=240, width=320, num_objects=2,
                       seed=0, split="val", crosser_leaves_frame=False)
# the embedded UVO-layout benchmark (dataset=uvo_synthetic): 3 objects, object 2 appears after frame 0
EMBEDDED_UVO_PARAMS = dict(layout="uvo", num_videos=2, num_frames=12, height=120, width=160, num_objects=3,
                           seed=0, split="val", crosser_leaves_frame=False)


@dataclass
class SyntheticObject:
    """Ground truth of one object.

    Attributes:
        id: its id in the annotations.
        first_frame: first frame it is drawn on (it does not exist before).
        z: drawing order (higher is drawn over lower).
        role: ``anchor``, ``crosser`` or ``drifter``.
        affines: (T, 2, 3) float64, canonical sprite coordinates -> frame pixel xy, defined on every frame.
    """

    id: int
    first_frame: int
    z: int
    role: str
    affines: np.ndarray = field(repr=False)


@dataclass
class SyntheticVideo:
    """Ground truth of one video.

    Attributes:
        labels: (T, H, W) uint8 visible label map (object ids after occlusion, 0 background).
        full_masks: (K, T, H, W) bool, each object's own mask ignoring occlusion (False before it starts).
    """

    name: str
    size: tuple[int, int]
    objects: list[SyntheticObject]
    labels: np.ndarray = field(repr=False)
    full_masks: np.ndarray = field(repr=False)

    @property
    def num_frames(self) -> int:
        return self.labels.shape[0]

    def object(self, object_id: int) -> SyntheticObject:
        for obj in self.objects:
            if obj.id == object_id:
                return obj
        raise KeyError(f"video {self.name} has no object {object_id}; ids: {[o.id for o in self.objects]}")

    def visible_area(self, object_id: int) -> np.ndarray:
        """(T,) int64 visible pixels of the object per frame."""
        return (self.labels == object_id).reshape(self.num_frames, -1).sum(axis=1)

    def point_motion(self, object_id: int, t0: int, xy0: np.ndarray, t1: int) -> np.ndarray:
        """Map points (N, 2) xy on the object at frame ``t0`` to frame ``t1`` -> (N, 2) float64 xy.

        Uses the known motion only; whether the point is visible at ``t1`` is `point_visible`.
        """
        affines = self.object(object_id).affines
        a0 = np.vstack([affines[t0], [0.0, 0.0, 1.0]])
        a1 = np.vstack([affines[t1], [0.0, 0.0, 1.0]])
        xy0 = np.asarray(xy0, dtype=np.float64).reshape(-1, 2)
        homogeneous = np.hstack([xy0, np.ones((len(xy0), 1))])
        return (homogeneous @ (a1 @ np.linalg.inv(a0)).T)[:, :2]

    def point_visible(self, object_id: int, t: int, xy: np.ndarray) -> np.ndarray:
        """(N,) bool: the points (N, 2) xy lie in the frame on a visible pixel of the object at frame ``t``."""
        xy = np.rint(np.asarray(xy, dtype=np.float64).reshape(-1, 2)).astype(np.int64)
        height, width = self.size
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
        visible = np.zeros(len(xy), dtype=bool)
        visible[inside] = self.labels[t, xy[inside, 1], xy[inside, 0]] == object_id
        return visible


@dataclass
class SyntheticInfo:
    """What `generate` wrote: the dataset root to give the reader, its split, the parameters and the truth.

    Frame indices of the truth count every generated frame (for ``ytvos`` the 30 fps frames of
    ``<split>_all_frames``; the 6 fps frames are indices 0, 5, 10, ...).
    """

    root: Path
    layout: str
    split: str
    params: dict
    videos: dict[str, SyntheticVideo]

    def point_motion(self, video: str, object_id: int, t0: int, xy0: np.ndarray, t1: int) -> np.ndarray:
        """(N, 2) xy of points on ``object_id`` moved from frame ``t0`` to ``t1`` by the known motion."""
        return self.videos[video].point_motion(object_id, t0, xy0, t1)


# ----------------------------------------------------------------------------------------------- textures
def _smooth_noise(rng: np.random.Generator, height: int, width: int, sigma: float, channels: int = 1) -> np.ndarray:
    """(H, W, C) float32 smoothed Gaussian noise scaled to unit standard deviation."""
    noise = rng.standard_normal((height, width, channels)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
    smooth = smooth.reshape(height, width, channels)
    return smooth / (smooth.std() + 1e-6)


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(H, W, 3) float32 muted grey-blue texture, values in 0..255."""
    coarse_h, coarse_w = height // 16 + 3, width // 16 + 3
    coarse = rng.standard_normal((coarse_h, coarse_w, 3)).astype(np.float32)
    coarse = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    fine = _smooth_noise(rng, height, width, sigma=1.5)
    base = np.array([112.0, 118.0, 126.0], dtype=np.float32)
    luminance = 18.0 * coarse.mean(axis=2, keepdims=True) + 16.0 * fine
    tint = 6.0 * (coarse - coarse.mean(axis=2, keepdims=True))
    return np.clip(base + luminance + tint, 0, 255)


def _sprite(rng: np.random.Generator, radius: float, hue: float) -> tuple[np.ndarray, np.ndarray]:
    """A star-shaped textured blob: (texture (S, S, 3) float32 0..255, alpha (S, S) float32 0..1)."""
    size = 2 * int(math.ceil(radius * 1.35)) + 3
    centre = (size - 1) / 2.0
    v, u = np.mgrid[0:size, 0:size].astype(np.float32)
    du, dv = u - centre, v - centre
    angle, rho = np.arctan2(dv, du), np.hypot(du, dv)
    boundary = np.ones_like(angle)
    for k in (2, 3, 4):
        boundary += rng.uniform(0.0, 0.09) * np.cos(k * angle + rng.uniform(0, 2 * np.pi))
    alpha = np.clip(radius * boundary - rho + 0.5, 0.0, 1.0)
    direction = rng.uniform(0, np.pi)
    period = max(3.0, radius / 2.5) * rng.uniform(0.8, 1.2)
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (du * np.cos(direction) + dv * np.sin(direction)) / period)
    noise = _smooth_noise(rng, size, size, sigma=max(0.8, radius / 10))[..., 0]
    shade = np.clip(0.5 + 0.35 * stripes + 0.2 * noise, 0.15, 1.15)[..., None]
    colour = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.75, 0.95), rng.uniform(0.85, 1.0)), np.float32) * 255
    return np.clip(colour * shade, 0, 255).astype(np.float32), alpha.astype(np.float32)


# ------------------------------------------------------------------------------------------------- motion
def _affine(cx: float, cy: float, angle: float, scale: float, centre: float) -> np.ndarray:
    """(2, 3): sprite point (u, v) -> scale * R(angle) @ ((u, v) - centre) + (cx, cy)."""
    cos, sin = scale * math.cos(angle), scale * math.sin(angle)
    return np.array([[cos, -sin, cx - (cos * centre - sin * centre)],
                     [sin, cos, cy - (sin * centre + cos * centre)]], dtype=np.float64)


def _late_start(num_frames: int, stride: int) -> int:
    """A first frame after 0 that is a multiple of ``stride`` (YouTube-VOS annotates 6 fps frames only)."""
    target = max(1, round(0.2 * (num_frames - 1)))
    start = int(math.ceil(target / stride) * stride)
    if start >= num_frames:
        start = ((num_frames - 1) // stride) * stride
    return start


def _trajectory(rng, role: str, num_frames: int, height: int, width: int, reach: float,
                crosser_leaves_frame: bool = True) -> np.ndarray:
    """(T, 2) centres of one object; ``reach`` = its largest distance from centre to boundary in pixels.

    Without ``crosser_leaves_frame`` the crosser only grazes the anchor (partial occlusion) and turns
    back inside the frame: the gentler scenario of the embedded default.
    """
    p = np.linspace(0.0, 1.0, num_frames) if num_frames > 1 else np.zeros(1)
    if role == "anchor":
        phase = rng.uniform(0, 2 * np.pi, size=2)
        x = width * (0.22 + 0.05 * np.sin(2 * np.pi * p + phase[0]))
        y = height * (0.5 + 0.08 * np.sin(2 * np.pi * 1.3 * p + phase[1]))
        return np.stack([x, y], axis=1)
    if role == "crosser" and not crosser_leaves_frame:
        x = np.interp(p, [0.0, 0.35, 0.7, 1.0], [0.45 * width, 0.34 * width, 0.55 * width, 0.72 * width])
        dy = [rng.choice([-1, 1]) * 0.2, rng.choice([-1, 1]) * 0.12, rng.uniform(-0.15, 0.15)]
        y = height * (0.5 + np.interp(p, [0.0, 0.35, 1.0], dy))
        return np.stack([x, y], axis=1)
    if role == "crosser":
        out = -reach - 1.0  # fully left of the frame
        # slow while it slides over the anchor (LK-trackable), fast while it leaves and comes back
        x = np.interp(p, [0.0, 0.35, 0.6, 0.65, 1.0], [0.42 * width, 0.22 * width, out, out, 0.12 * width])
        dy = [rng.choice([-1, 1]) * 0.18, rng.uniform(-0.04, 0.04), rng.uniform(-0.1, 0.1)]
        y = height * (0.5 + np.interp(p, [0.0, 0.35, 1.0], dy))
        return np.stack([x, y], axis=1)
    lo = np.array([reach, reach]) + 1
    hi = np.array([width - reach, height - reach]) - 1
    hi = np.maximum(hi, lo + 1)
    position = rng.uniform(lo, hi)
    velocity = rng.uniform(-1, 1, size=2) * 0.025 * np.array([width, height])
    centres = np.zeros((num_frames, 2))
    for t in range(num_frames):
        centres[t] = position
        position = position + velocity
        for axis in range(2):
            if position[axis] < lo[axis] or position[axis] > hi[axis]:
                velocity[axis] = -velocity[axis]
                position[axis] = np.clip(position[axis], lo[axis], hi[axis])
    return centres


# ------------------------------------------------------------------------------------------------ render
@dataclass
class _Rendered:
    frames: np.ndarray  # (T, H, W, 3) uint8
    truth: SyntheticVideo


@dataclass
class _Scene:
    """A video's drawn content: background, objects with their motion, sprites; frames are drawn on demand."""

    name: str
    background: np.ndarray = field(repr=False)  # (H, W, 3) float32
    objects: list[SyntheticObject] = field(repr=False)
    sprites: list[tuple[np.ndarray, np.ndarray]] = field(repr=False)  # (texture, alpha) per object

    @property
    def size(self) -> tuple[int, int]:
        return self.background.shape[:2]

    def draw(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frame t: (H, W, 3) uint8 RGB, (H, W) uint8 visible labels, (K, H, W) bool full masks."""
        height, width = self.size
        canvas = self.background.copy()
        labels = np.zeros((height, width), dtype=np.uint8)
        full = np.zeros((len(self.objects), height, width), dtype=bool)
        for k, (obj, (texture, alpha)) in enumerate(zip(self.objects, self.sprites)):
            if t < obj.first_frame:
                continue
            warp = dict(dsize=(width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            colour = cv2.warpAffine(texture, obj.affines[t], **warp)
            weight = cv2.warpAffine(alpha, obj.affines[t], **warp)[..., None]
            canvas = canvas * (1 - weight) + colour * weight
            full[k] = weight[..., 0] > 0.5
            labels[full[k]] = obj.id
        return np.clip(np.rint(canvas), 0, 255).astype(np.uint8), labels, full

    def first_masks_ok(self) -> bool:
        """Every object is clearly visible on its first frame (a first mask that a reader will accept)."""
        for k, obj in enumerate(self.objects):
            _, labels, full = self.draw(obj.first_frame)
            if int((labels == obj.id).sum()) < max(4, 0.5 * int(full[k].sum())):
                return False
        return True


def _scene(rng, name: str, num_frames: int, height: int, width: int, object_ids: list[int],
           late_start: int, crosser_leaves_frame: bool = True) -> _Scene:
    background = _background(rng, height, width)
    hue0 = rng.uniform(0, 1)
    sprites, objects = [], []
    for k, object_id in enumerate(object_ids):
        role = "anchor" if k == 0 else "crosser" if k == 1 else "drifter"
        radius = min(height, width) * rng.uniform(0.11, 0.15)
        texture, alpha = _sprite(rng, radius, (hue0 + 0.37 * k) % 1.0)
        centre = (texture.shape[0] - 1) / 2.0
        scale_amp, scale_phase = rng.uniform(0.04, 0.1), rng.uniform(0, 2 * np.pi)
        angle0, spin = rng.uniform(0, 2 * np.pi), rng.uniform(-0.04, 0.04)
        reach = radius * 1.3 * (1 + scale_amp)
        centres = _trajectory(rng, role, num_frames, height, width, reach, crosser_leaves_frame)
        p = np.linspace(0.0, 1.0, num_frames) if num_frames > 1 else np.zeros(1)
        affines = np.stack([
            _affine(centres[t, 0], centres[t, 1], angle0 + spin * t,
                    1 + scale_amp * math.sin(2 * np.pi * p[t] + scale_phase), centre)
            for t in range(num_frames)
        ])
        first = late_start if role == "crosser" else 0
        objects.append(SyntheticObject(id=object_id, first_frame=first, z=k, role=role, affines=affines))
        sprites.append((texture, alpha))
    return _Scene(name, background, objects, sprites)


def _render_video(scene: _Scene, num_frames: int) -> _Rendered:
    height, width = scene.size
    frames = np.zeros((num_frames, height, width, 3), dtype=np.uint8)
    labels = np.zeros((num_frames, height, width), dtype=np.uint8)
    full = np.zeros((len(scene.objects), num_frames, height, width), dtype=bool)
    for t in range(num_frames):
        frames[t], labels[t], full[:, t] = scene.draw(t)
    truth = SyntheticVideo(name=scene.name, size=(height, width), objects=scene.objects, labels=labels,
                           full_masks=full)
    return _Rendered(frames=frames, truth=truth)


def visible_scene(seed_sequence: np.random.SeedSequence, name: str, num_frames: int, height: int, width: int,
                  object_ids: list[int], late_start: int, attempts: int = 30,
                  crosser_leaves_frame: bool = True) -> _Scene:
    """One video's scene; redrawn (from the same generator) until every first mask is clearly visible."""
    rng = np.random.default_rng(seed_sequence)
    for _ in range(attempts):
        scene = _scene(rng, name, num_frames, height, width, object_ids, late_start, crosser_leaves_frame)
        if scene.first_masks_ok():
            return scene
    raise RuntimeError(f"could not place {len(object_ids)} visible objects in a {width}x{height} video {name}; "
                       "use fewer objects or larger frames")


def render_video(seed_sequence: np.random.SeedSequence, name: str, num_frames: int, height: int, width: int,
                 object_ids: list[int], late_start: int, attempts: int = 30,
                 crosser_leaves_frame: bool = True) -> _Rendered:
    """Render one video (frames and ground truth in memory); see `visible_scene`."""
    return _render_video(visible_scene(seed_sequence, name, num_frames, height, width, object_ids, late_start,
                                       attempts, crosser_leaves_frame), num_frames)


# ------------------------------------------------------------------------------------------------ writers
def _name(t: int) -> str:
    return f"{t:05d}"


def _write_davis(root: Path, split: str, items: list[_Rendered], full_resolution: bool, year: str) -> None:
    """DAVIS 2017 (indexed ids, ``Full-Resolution``) or DAVIS 2016 (binary 0/255 masks, ``1080p``)."""
    binary = year == "2016"
    resolutions = ["480p"] + ([("1080p" if binary else "Full-Resolution")] if full_resolution else [])
    for item in items:
        truth = item.truth
        for resolution in resolutions:
            for t in range(truth.num_frames):
                frame, labels = item.frames[t], truth.labels[t]
                if resolution != "480p":
                    frame, labels = _upscale(frame, labels)
                write_frame(root / "JPEGImages" / resolution / truth.name / f"{_name(t)}.jpg", frame, quality=95)
                if binary:
                    labels = np.where(labels > 0, 255, 0).astype(np.uint8)
                write_label_png(root / "Annotations" / resolution / truth.name / f"{_name(t)}.png", labels,
                                palette=GREY_PALETTE if binary else None)
    _write_list(root / "ImageSets" / year / f"{split}.txt", items)


def _write_ytvos(root: Path, split: str, items: list[_Rendered]) -> None:
    videos = {}
    for item in items:
        truth = item.truth
        kept = list(range(0, truth.num_frames, YTVOS_STRIDE))
        for t in range(truth.num_frames):
            write_frame(root / f"{split}_all_frames" / "JPEGImages" / truth.name / f"{_name(t)}.jpg",
                        item.frames[t], quality=95)
        for t in kept:
            write_frame(root / split / "JPEGImages" / truth.name / f"{_name(t)}.jpg", item.frames[t], quality=95)
        objects = {}
        for obj in truth.objects:
            area = truth.visible_area(obj.id)
            if split == "train":
                frames = [_name(t) for t in kept if area[t] > 0]
            else:
                frames = [_name(t) for t in kept if t >= obj.first_frame]
            objects[str(obj.id)] = {"category": "synthetic", "frames": frames}
        videos[truth.name] = {"objects": objects}
        if split == "train":
            for t in kept:
                write_label_png(root / split / "Annotations" / truth.name / f"{_name(t)}.png", truth.labels[t])
        else:
            for t in sorted({obj.first_frame for obj in truth.objects}):
                starting = [obj.id for obj in truth.objects if obj.first_frame == t]
                labels = np.where(np.isin(truth.labels[t], starting), truth.labels[t], 0).astype(np.uint8)
                write_label_png(root / split / "Annotations" / truth.name / f"{_name(t)}.png", labels)
    _write_json(root / split / "meta.json", {"videos": videos})


def _write_mose(root: Path, split: str, items: list[_Rendered]) -> None:
    for item in items:
        truth = item.truth
        for t in range(truth.num_frames):
            write_frame(root / split / "JPEGImages" / truth.name / f"{_name(t)}.jpg", item.frames[t], quality=95)
            if split == "train" or t == 0:
                write_label_png(root / split / "Annotations" / truth.name / f"{_name(t)}.png", truth.labels[t])


def _write_folder(root: Path, split: str, items: list[_Rendered]) -> None:
    for item in items:
        truth = item.truth
        for t in range(truth.num_frames):
            write_frame(root / "JPEGImages" / truth.name / f"{_name(t)}.jpg", item.frames[t], quality=95)
        for t in sorted({obj.first_frame for obj in truth.objects}):
            write_label_png(root / "Annotations" / truth.name / f"{_name(t)}.png", truth.labels[t])
    if split != "all":
        _write_list(root / "ImageSets" / f"{split}.txt", items)


def _write_uvo(root: Path, split: str, items: list[_Rendered]) -> None:
    videos, annotations = [], []
    for video_id, item in enumerate(items, start=1):
        truth = item.truth
        height, width = truth.size
        file_names = [f"{truth.name}/{t}.png" for t in range(truth.num_frames)]
        for t, file_name in enumerate(file_names):
            write_frame(root / "uvo_videos_dense_frames" / file_name, item.frames[t])
        videos.append({"id": video_id, "ytid": truth.name, "width": width, "height": height,
                       "length": truth.num_frames, "file_names": file_names})
        for obj in truth.objects:
            segmentations, areas, boxes = [], [], []
            for t in range(truth.num_frames):
                mask = truth.labels[t] == obj.id
                if not mask.any():
                    segmentations.append(None)
                    areas.append(None)
                    boxes.append(None)
                    continue
                rle = encode_rle(mask)
                segmentations.append(rle)
                areas.append(int(mask.sum()))
                boxes.append([float(v) for v in mask_utils.toBbox({**rle, "counts": rle["counts"].encode("ascii")})])
            annotations.append({"id": len(annotations) + 1, "video_id": video_id, "category_id": 1, "iscrowd": 0,
                                "height": height, "width": width, "length": truth.num_frames,
                                "segmentations": segmentations, "areas": areas, "bboxes": boxes})
    data = {"info": {"description": "sampt synthetic UVO-style dense set"}, "videos": videos,
            "annotations": annotations, "categories": [{"id": 1, "name": "object"}]}
    _write_json(root / "VideoDenseSet" / f"UVO_video_{split}_dense.json", data)


def _write_sav(root: Path, split: str, items: list[_Rendered]) -> None:
    """SA-V: all frames as 24 fps JPEGs, binary 0/255 masks of every object on every 4th frame (empty before
    an object starts and while it is out of the frame), and the split's video list."""
    base = root / f"sav_{split}"
    for item in items:
        truth = item.truth
        for t in range(truth.num_frames):
            write_frame(base / "JPEGImages_24fps" / truth.name / f"{_name(t)}.jpg", item.frames[t], quality=95)
        for obj in truth.objects:
            folder = base / "Annotations_6fps" / truth.name / f"{obj.id - 1:03d}"
            for t in range(0, truth.num_frames, SAV_STRIDE):
                mask = np.where(truth.labels[t] == obj.id, 255, 0).astype(np.uint8)
                write_label_png(folder / f"{_name(t)}.png", mask, palette=GREY_PALETTE)
    _write_list(base / f"sav_{split}.txt", items)


def _write_vost(root: Path, split: str, items: list[_Rendered]) -> None:
    """VOST: all frames as JPEGs, indexed label PNGs on every `VOST_STRIDE`-th frame whose background
    pixels within 2 pixels of object 1 are void (255), and ``ImageSets/<split>.txt``."""
    ring = np.ones((5, 5), np.uint8)
    for item in items:
        truth = item.truth
        for t in range(truth.num_frames):
            write_frame(root / "JPEGImages" / truth.name / f"{_name(t)}.jpg", item.frames[t], quality=95)
        for t in range(0, truth.num_frames, VOST_STRIDE):
            labels = truth.labels[t].copy()
            near = cv2.dilate((labels == truth.objects[0].id).astype(np.uint8), ring) > 0
            labels[near & (labels == 0)] = 255
            write_label_png(root / "Annotations" / truth.name / f"{_name(t)}.png", labels)
    _write_list(root / "ImageSets" / f"{split}.txt", items)

def _write_lvos(root: Path, split: str, items: list[_Rendered]) -> None:
    """LVOS: all frames as JPEGs numbered from 00000001, label maps on every 5th frame, ``<split>_meta.json``
    (an object's range starts on its first annotated frame where it is visible and ends on the video's
    last annotated frame, which ``range(start, end, 5)`` leaves out) and ``unseen_videos.txt``."""
    base = root / split
    meta = {}
    for item in items:
        truth = item.truth
        annotated = list(range(0, truth.num_frames, LVOS_STRIDE))
        for t in range(truth.num_frames):
            write_frame(base / "JPEGImages" / truth.name / f"{t + 1:08d}.jpg", item.frames[t], quality=95)
        for t in annotated:
            write_label_png(base / "Annotations" / truth.name / f"{t + 1:08d}.png", truth.labels[t])
        objects = {}
        for obj in truth.objects:
            start = next(t for t in annotated if (truth.labels[t] == obj.id).any())
            objects[str(obj.id)] = {"frame_range": {"start": f"{start + 1:08d}", "end": f"{annotated[-1] + 1:08d}",
                                                    "frame_nums": len([t for t in annotated if t >= start])}}
        meta[truth.name] = {"objects": objects}
    _write_json(base / f"{split}_meta.json", {"videos": meta})
    (base / "unseen_videos.txt").write_text("".join(f"{item.truth.name}\n" for item in items[1::2]))


def _write_mosev2(root: Path, split: str, items: list[_Rendered]) -> None:
    """MOSEv2: all frames as JPEGs, label maps on every frame (empty before object 2 starts and while it is out
    of the frame) and ``meta.json`` (length, height, width and the object ids, a list of strings)."""
    base = root / split
    meta = {}
    for item in items:
        truth = item.truth
        for t in range(truth.num_frames):
            write_frame(base / "JPEGImages" / truth.name / f"{_name(t)}.jpg", item.frames[t], quality=95)
            write_label_png(base / "Annotations" / truth.name / f"{_name(t)}.png", truth.labels[t])
        height, width = truth.size
        meta[truth.name] = {"length": truth.num_frames, "height": height, "width": width,
                            "objects": [str(obj.id) for obj in truth.objects]}
    _write_json(base / "meta.json", {"videos": meta})


def _write_long_video(root: Path, items: list[_Rendered]) -> None:
    """Long-Time Video: ``long_video/`` with every frame and label maps on every `LONG_VIDEO_STRIDE`-th frame,
    ``long_video_x3/`` the same video played forward, backward, forward (frame k is source frame
    `bounce_frame`; it is annotated where that source frame is)."""
    for item in items:
        truth = item.truth
        annotated = set(range(0, truth.num_frames, LONG_VIDEO_STRIDE))
        for folder, length in (("long_video", truth.num_frames),
                               ("long_video_x3", LONG_VIDEO_REPEATS * truth.num_frames)):
            for k in range(length):
                t = bounce_frame(k, truth.num_frames)
                write_frame(root / folder / "JPEGImages" / truth.name / f"{_name(k)}.jpg", item.frames[t], quality=95)
                if t in annotated:
                    write_label_png(root / folder / "Annotations" / truth.name / f"{_name(k)}.png", truth.labels[t])


def bounce_frame(k: int, num_frames: int) -> int:
    """The source frame of frame ``k`` of a video played forward, backward, forward, ... (0, 1, .., T-1,
    T-2, .., 1, 0, 1, ..: the order of XMem's ``scripts/expand_long_vid.py`` that made LV3)."""
    if num_frames == 1:
        return 0
    k %= 2 * num_frames - 2
    return k if k < num_frames else 2 * num_frames - 2 - k


def _write_bdd100k(root: Path, split: str, items: list[_Rendered]) -> None:
    """BDD100K VOS: all frames as JPEGs and label maps of every frame (empty before object 2 starts and while it
    is out of the frame), both named ``<video>-<t:07d>`` counting from 1, as the authors' conversion writes them."""
    for item in items:
        truth = item.truth
        for t in range(truth.num_frames):
            stem = f"{truth.name}-{t + 1:07d}"
            write_frame(root / split / "JPEGImages" / truth.name / f"{stem}.jpg", item.frames[t], quality=95)
            write_label_png(root / split / "Annotations" / truth.name / f"{stem}.png", truth.labels[t])


def _upscale(frame: np.ndarray, labels: np.ndarray, factor: int = 2) -> tuple[np.ndarray, np.ndarray]:
    height, width = labels.shape
    size = (width * factor, height * factor)
    return (cv2.resize(frame, size, interpolation=cv2.INTER_CUBIC),
            cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST))


def _write_list(path: Path, items: list[_Rendered]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{item.truth.name}\n" for item in items))


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, sort_keys=True))


# --------------------------------------------------------------------------------------------------- API
def generate(
    root: str | Path,
    layout: str,
    num_videos: int = 2,
    num_frames: int | None = None,
    height: int = 120,
    width: int = 160,
    num_objects: int = 2,
    seed: int = 0,
    split: str | None = None,
    object_ids: list[int] | None = None,
    late_start: bool | None = None,
    full_resolution: bool = False,
    crosser_leaves_frame: bool = True,
) -> SyntheticInfo:
    """Write a synthetic benchmark in ``layout`` under ``root`` (which must be empty or absent).

    Args:
        layout: one of ``davis17, davis16, ytvos, mose, uvo, folder, sav, vost, lvos, mosev2, long_video, bdd100k``.
        num_frames: frames per video (for ``ytvos``: the 30 fps frames; every 5th is the 6 fps set; for
            ``sav``: the 24 fps frames, masks on every 4th; ``lvos``: masks on every 5th); default 12, for ``sav``
            48, for ``lvos`` 60, for ``mosev2`` 40.
        split: the split to write (default: ``val`` / ``valid`` / ``all`` as the layout names it; ``ytvos``
            and ``mose`` also ``train``, with dense annotations).
        object_ids: ids of the objects (default 1..num_objects; given, they set num_objects; DAVIS 2017
            needs exactly 1..N).
        late_start: let object 2 first appear after frame 0 (default: where the layout allows it,
            i.e. ytvos, uvo, folder; DAVIS and MOSE start every object on frame 0).
        full_resolution: DAVIS layouts also get 2x frames and masks (``Full-Resolution`` / ``1080p``).
        crosser_leaves_frame: object 2 covers object 1, leaves the frame and re-enters (the hard case);
            False: it only grazes object 1 and stays inside the frame.

    Returns:
        `SyntheticInfo` with the root a reader takes, the split, the parameters and the ground truth.
    """
    ids, late_start = _checked_options(layout, object_ids, num_objects, late_start)
    num_frames = DEFAULT_NUM_FRAMES.get(layout, 12) if num_frames is None else num_frames
    split = split or DEFAULT_SPLIT[layout]
    num_objects = len(ids)
    if num_videos < 1 or num_frames < 1 or num_objects < 1 or min(height, width) < 24:
        raise ValueError("need num_videos, num_frames, num_objects >= 1 and frames of at least 24x24 pixels")
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty; generate into a new folder")
    stride = STRIDE.get(layout, 1)
    start = _late_start(num_frames, stride) if late_start and num_objects >= 2 else 0
    params = dict(layout=layout, num_videos=num_videos, num_frames=num_frames, height=height, width=width,
                  num_objects=num_objects, seed=seed, split=split, object_ids=ids, late_start=bool(late_start),
                  full_resolution=full_resolution, crosser_leaves_frame=crosser_leaves_frame,
                  version=GENERATOR_VERSION)
    seeds = np.random.SeedSequence(seed).spawn(num_videos)
    items = [render_video(seeds[i], f"synth-{i:03d}", num_frames, height, width, ids, start,
                          crosser_leaves_frame=crosser_leaves_frame)
             for i in range(num_videos)]
    root.mkdir(parents=True, exist_ok=True)
    _write_layout(root, layout, split, items, full_resolution)
    return SyntheticInfo(root=root, layout=layout, split=split, params=params,
                         videos={item.truth.name: item.truth for item in items})


def _checked_options(layout: str, object_ids: list[int] | None, num_objects: int,
                     late_start: bool | None) -> tuple[list[int], bool]:
    """`generate`'s layout, object ids and late start checked: (object ids, late start) or a ValueError.

    The ids default to 1..``num_objects``; ``late_start`` None becomes True where the layout allows it.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; valid layouts: {', '.join(LAYOUTS)}")
    ids = list(object_ids) if object_ids is not None else list(range(1, num_objects + 1))
    if len(set(ids)) != len(ids) or not all(0 < i < 255 for i in ids):
        raise ValueError(f"object_ids {ids} must be distinct ids in 1..254")
    if layout == "davis17" and ids != list(range(1, len(ids) + 1)):
        raise ValueError(f"the DAVIS 2017 layout needs object ids 1..N, got {ids}")
    if late_start is None:
        late_start = layout in LATE_START_LAYOUTS
    if late_start and layout not in LATE_START_LAYOUTS:
        raise ValueError(f"layout {layout} starts every object on frame 0 (its readers take the objects from the "
                         f"first mask); late_start needs one of {LATE_START_LAYOUTS}")
    return ids, late_start


def _write_layout(root: Path, layout: str, split: str, items: list[_Rendered], full_resolution: bool) -> None:
    """Write the rendered ``items`` (one per video) under ``root`` in ``layout``'s folders and files."""
    if layout == "davis17":
        _write_davis(root, split, items, full_resolution, "2017")
    elif layout == "davis16":
        _write_davis(root, split, items, full_resolution, "2016")
    elif layout == "ytvos":
        _write_ytvos(root, split, items)
    elif layout == "mose":
        _write_mose(root, split, items)
    elif layout == "uvo":
        _write_uvo(root, split, items)
    elif layout == "sav":
        _write_sav(root, split, items)
    elif layout == "vost":
        _write_vost(root, split, items)
    elif layout == "lvos":
        _write_lvos(root, split, items)
    elif layout == "mosev2":
        _write_mosev2(root, split, items)
    elif layout == "long_video":
        _write_long_video(root, items)
    elif layout == "bdd100k":
        _write_bdd100k(root, split, items)
    else:
        _write_folder(root, split, items)


def write_long_davis(root: str | Path, num_frames: int, height: int = 480, width: int = 854, num_objects: int = 3,
                     seed: int = 0, split: str = "val", crosser_leaves_frame: bool = False) -> Path:
    """One video ``synth-000`` in the DAVIS 2017 layout (480p), drawn and written frame by frame.

    Memory does not grow with ``num_frames`` (only the objects' (T, 2, 3) motion is held), so videos of
    thousands of frames can be written for memory benchmarks. The files equal those of
    ``generate(root, "davis17", num_videos=1, ...)`` with the same parameters. Returns the DAVIS root.
    """
    if num_frames < 1 or num_objects < 1 or min(height, width) < 24:
        raise ValueError("need num_frames, num_objects >= 1 and frames of at least 24x24 pixels")
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty; write into a new folder")
    seeds = np.random.SeedSequence(seed).spawn(1)
    scene = visible_scene(seeds[0], "synth-000", num_frames, height, width, list(range(1, num_objects + 1)), 0,
                          crosser_leaves_frame=crosser_leaves_frame)
    for t in range(num_frames):
        frame, labels, _ = scene.draw(t)
        write_frame(root / "JPEGImages" / "480p" / scene.name / f"{_name(t)}.jpg", frame, quality=95)
        write_label_png(root / "Annotations" / "480p" / scene.name / f"{_name(t)}.png", labels)
    path = root / "ImageSets" / "2017" / f"{split}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(scene.name + "\n")
    return root


def embedded_default(cache_dir: str | Path) -> Path:
    """The small DAVIS-2017-layout benchmark of the default ``make eval`` (3 videos x 20 frames, 320x240).

    Built once under ``cache_dir/davis17-<hash of the parameters>`` (into a temporary folder, then renamed,
    with a completion marker written last); an incomplete folder is rebuilt. Returns the DAVIS root
    (split ``val``, resolution ``480p``).
    """
    return _cached_benchmark(cache_dir, EMBEDDED_PARAMS)


def embedded_uvo(cache_dir: str | Path) -> Path:
    """The small UVO-layout benchmark of ``dataset=uvo_synthetic`` (`EMBEDDED_UVO_PARAMS`), cached like
    `embedded_default` under ``cache_dir/uvo-<hash>``. Returns the UVO root (split ``val``)."""
    return _cached_benchmark(cache_dir, EMBEDDED_UVO_PARAMS)


def _cached_benchmark(cache_dir: str | Path, params: dict) -> Path:
    """`generate(**params)` built once under ``cache_dir/<layout>-<hash of params and version>``."""
    cache_dir = Path(cache_dir)
    key = hashlib.sha256(json.dumps({**params, "version": GENERATOR_VERSION},
                                    sort_keys=True).encode()).hexdigest()[:16]
    layout = params["layout"]
    target = cache_dir / f"{layout}-{key}"
    if (target / COMPLETE_MARKER).is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    temporary = cache_dir / f".tmp-{layout}-{key}-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    LOGGER.info("building the embedded synthetic benchmark in %s", target)
    generate(temporary, **params)
    (temporary / COMPLETE_MARKER).write_text(json.dumps(params, sort_keys=True))
    if target.exists():
        if (target / COMPLETE_MARKER).is_file():  # another process finished first
            shutil.rmtree(temporary, ignore_errors=True)
            return target
        shutil.rmtree(target)
    try:
        os.rename(temporary, target)
    except OSError:
        if not (target / COMPLETE_MARKER).is_file():
            raise
        shutil.rmtree(temporary, ignore_errors=True)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a deterministic synthetic benchmark in a reader layout.")
    parser.add_argument("--layout", required=True, choices=LAYOUTS)
    parser.add_argument("--out", required=True, type=Path, help="output folder (must be empty or absent)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-videos", type=int, default=2)
    parser.add_argument("--num-frames", type=int, default=None, help="default 12 (sav: 48, lvos: 60, mosev2: 40)")
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--num-objects", type=int, default=2)
    parser.add_argument("--split", default=None)
    parser.add_argument("--full-resolution", action="store_true")
    args = parser.parse_args(argv)
    info = generate(args.out, args.layout, num_videos=args.num_videos, num_frames=args.num_frames,
                    height=args.height, width=args.width, num_objects=args.num_objects, seed=args.seed,
                    split=args.split, full_resolution=args.full_resolution)
    print(f"wrote {len(info.videos)} {info.layout} videos (split {info.split}) to {info.root}")


if __name__ == "__main__":
    main()
