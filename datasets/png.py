"""Reading and writing frames and indexed (palette) annotation PNGs, with clear errors.

Annotation PNGs in DAVIS, YouTube-VOS and MOSE are single-channel palette ("P") images whose pixel
values are object ids; the palette only colours them. Predictions are written the same way, with the
DAVIS palette, so that every official tool reads back the ids.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from datasets.errors import DatasetError
from infra.files import atomic_write


def davis_palette() -> np.ndarray:
    """The DAVIS/YouTube-VOS colour palette, (256, 3) uint8: the PASCAL VOC bit-interleaving palette."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    for index in range(256):
        value, red, green, blue = index, 0, 0, 0
        for bit in range(8):
            red |= ((value >> 0) & 1) << (7 - bit)
            green |= ((value >> 1) & 1) << (7 - bit)
            blue |= ((value >> 2) & 1) << (7 - bit)
            value >>= 3
        palette[index] = (red, green, blue)
    return palette


DAVIS_PALETTE = davis_palette()


def _open(path: Path) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
    except FileNotFoundError:
        raise DatasetError(f"file not found: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise DatasetError(
            f"corrupt or unreadable image: {path} ({error}); re-extract it from the dataset archive"
        ) from None
    return image


def read_frame(path: str | Path) -> np.ndarray:
    """Read a video frame as (H, W, 3) uint8 RGB."""
    image = _open(Path(path))
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image)


def read_label_png(path: str | Path, allow_rgb: bool = False, wide: bool = False) -> np.ndarray:
    """Read an annotation or prediction PNG as an (H, W) uint8 label map (raw pixel values = ids).

    Palette ("P") and greyscale ("L") PNGs give their raw values. An RGB PNG cannot be decoded into ids
    without its palette, so it is an error unless ``allow_rgb`` (then every non-black pixel is 1, for
    binary DAVIS 2016 style masks saved as colour images). With ``wide`` a 16-bit greyscale PNG may hold ids
    up to 65535 (BDD100K, `datasets.bdd100k`): the map is then (H, W) uint16 when a value exceeds 255.
    """
    path = Path(path)
    image = _open(path)
    if image.mode in ("P", "L"):
        return np.asarray(image, dtype=np.uint8)
    if image.mode in ("1",):
        return np.asarray(image, dtype=np.uint8)
    if image.mode in ("I", "I;16", "I;16B"):
        array = np.asarray(image)
        top = int(array.max(initial=0))
        if top > 255 and not (wide and top <= 65535 and int(array.min(initial=0)) >= 0):
            raise DatasetError(f"label PNG {path} has values above 255 (mode {image.mode}); ids must be 0..255"
                               + (" (0..65535 for a 16-bit PNG)" if wide else ""))
        return array.astype(np.uint16 if top > 255 else np.uint8)
    if image.mode in ("RGB", "RGBA", "LA"):
        if allow_rgb:
            rgb = np.asarray(image.convert("RGB"))
            return (rgb.max(axis=2) > 0).astype(np.uint8)
        raise DatasetError(
            f"annotation {path} is an {image.mode} image, not an indexed (palette) PNG: object ids cannot be "
            "read from colours. Save masks as single-channel 'P' or 'L' PNGs whose pixel values are object "
            "ids (e.g. PIL: Image.fromarray(ids.astype(np.uint8), mode='P') with the DAVIS palette)."
        )
    raise DatasetError(f"annotation {path} has unsupported PNG mode {image.mode!r}; expected an indexed PNG")


def write_label_png(path: str | Path, labels: np.ndarray, palette: np.ndarray | None = None) -> None:
    """Write an (H, W) label map as an indexed PNG with the DAVIS palette (or ``palette``), atomically; ids
    above 255 (up to 65535: BDD100K, `datasets.bdd100k`) as a 16-bit greyscale PNG (no palette), which
    `read_label_png` reads back with ``wide=True``."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels for {path} must be (H, W), got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 65535):
        raise ValueError(f"labels for {path} must be ids in 0..65535, got {labels.min()}..{labels.max()}")
    if labels.size and labels.max() > 255:
        image = Image.fromarray(labels.astype(np.uint16))
        atomic_write(path, lambda temporary: image.save(temporary, format="PNG"))
        return
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    image.putpalette((DAVIS_PALETTE if palette is None else np.asarray(palette, np.uint8)).reshape(-1).tolist())
    atomic_write(path, lambda temporary: image.save(temporary, format="PNG"))


def write_frame(path: str | Path, frame: np.ndarray, quality: int = 95) -> None:
    """Write an (H, W, 3) uint8 RGB frame as JPEG (by suffix) or PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(np.asarray(frame, dtype=np.uint8), mode="RGB")
    if path.suffix.lower() in (".jpg", ".jpeg"):
        image.save(path, format="JPEG", quality=quality)
    else:
        image.save(path, format="PNG")


def image_size(path: str | Path) -> tuple[int, int]:
    """(H, W) of an image file, read from its header only."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except FileNotFoundError:
        raise DatasetError(f"file not found: {path}") from None
    except (UnidentifiedImageError, OSError) as error:
        raise DatasetError(f"corrupt or unreadable image: {path} ({error})") from None
    return height, width
