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
