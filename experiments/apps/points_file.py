"""Query points in the SAM-PT demo format (SysCV/sam-pt ``data/demo_data/README.md``).

Format (one object, "mask", per line after the first)::

    <number of positive points per mask>
    <t> ; x,y x,y ... x,y
    <t> ; x,y x,y ... x,y

``t`` is the frame the object's points are given on (objects may start on any frame); the first
``number of positive points`` points of a line are positive, the rest negative. Every line must hold the
same number of points (SAM-PT tracks an (M, P) grid of points). Pixel coordinates, origin at the top-left
corner, x to the right. Blank lines and lines starting with ``#`` are skipped.

`parse_points_text` / `read_points_file` return `QueryPoints`; `write_points_file` writes one back.
Every parse error is a `PointsFileError` naming the source and the 1-based line.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class PointsFileError(ValueError):
    """A query-points file (or ``--point`` argument) is malformed; the message names the line."""


@dataclass
class QueryPoints:
    """Query points of M objects.

    Attributes:
        points: (M, P, 3) float32 (t, x, y); every point of an object shares its t.
        num_positive: the first ``num_positive`` points of each object are positive (1 <= K <= P).
    """

    points: np.ndarray
    num_positive: int

    @property
    def num_objects(self) -> int:
        return self.points.shape[0]

    @property
    def first_frames(self) -> np.ndarray:
        """(M,) int64 frame each object starts on."""
        return self.points[:, 0, 0].astype(np.int64)

    def check_video(self, num_frames: int, frame_size: tuple[int, int], source: str = "query points") -> None:
        """Raise `PointsFileError` if a point lies outside the video (frame index or pixel position)."""
        height, width = frame_size
        for index, row in enumerate(self.points):
            t = int(row[0, 0])
            if t >= num_frames:
                raise PointsFileError(f"{source}: object {index + 1} starts on frame {t} but the video has "
                                      f"{num_frames} frames (0..{num_frames - 1})")
            outside = (row[:, 1] < 0) | (row[:, 1] > width - 1) | (row[:, 2] < 0) | (row[:, 2] > height - 1)
            if outside.any():
                x, y = row[np.flatnonzero(outside)[0], 1:]
                raise PointsFileError(f"{source}: object {index + 1} has point ({x:g}, {y:g}) outside the "
                                      f"{width}x{height} frame (x in [0, {width - 1}], y in [0, {height - 1}])")


def parse_point_line(text: str, where: str) -> tuple[int, np.ndarray]:
    """One ``t ; x,y x,y ...`` line -> (t, (P, 2) float32 xy). ``where`` names it in errors."""
    if text.count(";") != 1:
        raise PointsFileError(f"{where}: expected 't ; x,y x,y ...' (one ';'), got {text!r}")
    t_text, points_text = (part.strip() for part in text.split(";"))
    try:
        t = int(t_text)
    except ValueError:
        raise PointsFileError(f"{where}: frame index {t_text!r} is not an integer") from None
    if t < 0:
        raise PointsFileError(f"{where}: frame index must be >= 0, got {t}")
    pairs = points_text.split()
    if not pairs:
        raise PointsFileError(f"{where}: no point after ';' (expected x,y pairs separated by spaces)")
    xy = []
    for pair in pairs:
        parts = pair.split(",")
        try:
            if len(parts) != 2:
                raise ValueError
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            raise PointsFileError(f"{where}: point {pair!r} is not 'x,y' with two numbers") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise PointsFileError(f"{where}: point {pair!r} is not finite")
        xy.append((x, y))
    return t, np.asarray(xy, np.float32)


def _stack(rows: list[tuple[int, np.ndarray, str]], num_positive: int, source: str) -> QueryPoints:
    if not rows:
        raise PointsFileError(f"{source}: no object line (expected 't ; x,y x,y ...' lines)")
    count = len(rows[0][1])
    for _, xy, where in rows:
        if len(xy) != count:
            raise PointsFileError(f"{where}: has {len(xy)} points but the first object has {count}; every "
                                  f"object needs the same number of points")
        if num_positive > len(xy):
            raise PointsFileError(f"{where}: has {len(xy)} points, fewer than the {num_positive} positive "
                                  f"points per mask")
    points = np.stack([np.concatenate([np.full((count, 1), t, np.float32), xy], axis=1) for t, xy, _ in rows])
    return QueryPoints(points.astype(np.float32), num_positive)


def parse_points_text(text: str, source: str = "<text>") -> QueryPoints:
    """Parse the demo format (see the module docstring); errors name ``source`` and the line number."""
    rows: list[tuple[int, np.ndarray, str]] = []
    num_positive = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}, line {number}"
        if num_positive is None:
            try:
                num_positive = int(line)
            except ValueError:
                raise PointsFileError(f"{where}: the first line must be the number of positive points per "
                                      f"mask (an integer), got {line!r}") from None
            if num_positive < 1:
                raise PointsFileError(f"{where}: the number of positive points per mask must be >= 1, got "
                                      f"{num_positive}")
            continue
        t, xy = parse_point_line(line, where)
        rows.append((t, xy, where))
    if num_positive is None:
        raise PointsFileError(f"{source}: empty (expected the number of positive points, then object lines)")
    return _stack(rows, num_positive, source)


def read_points_file(path: str | Path) -> QueryPoints:
    """Read a query-points file in the demo format."""
    path = Path(path)
    if not path.is_file():
        raise PointsFileError(f"query points file not found: {path}")
    return parse_points_text(path.read_text(), str(path))


def points_from_arguments(lines: list[str], num_positive: int | None = None) -> QueryPoints:
    """``--point "t;x,y x,y"`` arguments (one per object) -> `QueryPoints`.

    ``num_positive`` None makes every point positive.
    """
    rows = []
    for index, text in enumerate(lines, start=1):
        where = f"--point #{index} ({text!r})"
        t, xy = parse_point_line(text, where)
        rows.append((t, xy, where))
    if num_positive is None:
        num_positive = len(rows[0][1]) if rows else 1
    if num_positive < 1:
        raise PointsFileError(f"--num-positive must be >= 1, got {num_positive}")
    return _stack(rows, num_positive, "--point")


def format_points(query: QueryPoints) -> str:
    """The demo-format text of ``query`` (round-trips through `parse_points_text`)."""
    lines = [str(int(query.num_positive))]
    for row in query.points:
        coords = " ".join(f"{x:.9g},{y:.9g}" for x, y in row[:, 1:3].tolist())
        lines.append(f"{int(row[0, 0])} ; {coords}")
    return "\n".join(lines) + "\n"


def write_points_file(path: str | Path, query: QueryPoints) -> None:
    """Write ``query`` in the demo format."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_points(query))
