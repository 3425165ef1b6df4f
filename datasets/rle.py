"""Compressed RLE of binary masks (COCO / YouTube-VIS json form): the one codec of the tree.

``{"size": [H, W], "counts": str}`` in Fortran (column-major) order, as pycocotools writes it; used by the
synthetic UVO generator, the VIS pipeline's ``tracks.json``, the UVO submission and the VIS evaluator.
"""
from __future__ import annotations

import warnings

import numpy as np


def encode_rle(mask: np.ndarray) -> dict:
    """(H, W) bool/uint8 mask -> compressed RLE ``{"size": [H, W], "counts": str}`` (json-ready)."""
    from pycocotools import mask as mask_utils

    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"encode_rle expects an (H, W) mask, got shape {mask.shape}")
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def decode_rle(rle: dict) -> np.ndarray:
    """Compressed RLE (``counts`` str or bytes) -> (H, W) bool."""
    from pycocotools import mask as mask_utils

    counts = rle["counts"]
    with warnings.catch_warnings():  # pycocotools' numpy-2 copy-keyword DeprecationWarning
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_utils.decode({"size": list(rle["size"]),
                                  "counts": counts.encode("ascii") if isinstance(counts, str) else counts}).astype(bool)


def segmentation_rle(segmentation, height: int, width: int, where: str, error: type[Exception] = ValueError):
    """One frame's YouTube-VIS / UVO segmentation -> pycocotools RLE ``{"size", "counts": bytes}``, or None.

    Accepts what the datasets' json files hold: compressed RLE (``counts`` str or bytes), uncompressed RLE
    (``counts`` a list) and polygons (a list of flat coordinate lists); null or an empty list means the
    object is absent (None). Anything else, or an RLE whose size is not (``height``, ``width``), raises
    ``error`` with ``where`` (file, video, object, frame) in the message.
    """
    from pycocotools import mask as mask_utils

    if segmentation is None or (isinstance(segmentation, list) and not segmentation):
        return None
    if isinstance(segmentation, list):  # polygons
        try:
            return mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
        except Exception as cause:  # pycocotools raises bare exceptions on malformed polygons
            raise error(f"{where}: cannot read the polygons ({cause})") from None
    if not isinstance(segmentation, dict) or "counts" not in segmentation or "size" not in segmentation:
        raise error(f"{where}: a segmentation must be an RLE dict with 'size' and 'counts', polygons or null, "
                    f"got {str(segmentation)[:60]}")
    if list(segmentation["size"]) != [height, width]:
        raise error(f"{where}: RLE size {segmentation['size']} differs from the video's [height, width] = "
                    f"[{height}, {width}]")
    counts = segmentation["counts"]
    if isinstance(counts, list):
        try:
            return mask_utils.frPyObjects(segmentation, height, width)
        except Exception as cause:
            raise error(f"{where}: cannot read the uncompressed RLE ({cause})") from None
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    if not isinstance(counts, bytes):
        raise error(f"{where}: RLE 'counts' must be a string or a list, got {type(counts).__name__}")
    return {"size": [height, width], "counts": counts}
