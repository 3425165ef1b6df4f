"""The videos of a Hydra config (VOS and VIS): the one way the run, merge, the report and the benchmarks
read them, through `datasets.registry.read_videos`.

Reads ``cfg.dataset`` (``name``, ``reader``, ``root``, ``split``, ``options``; ``synthetic: true`` builds the
embedded UVO-layout benchmark under ``root``, ``name: synthetic`` the embedded DAVIS-layout default) and
the selection knobs ``videos``, ``limit_videos``, ``shard`` and ``num_shards``.
"""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from datasets.errors import DatasetError
from datasets.registry import read_videos
from datasets.video import Video


def dataset_root(cfg: DictConfig) -> Path:
    """The dataset root; the synthetic benchmarks (DAVIS and UVO layouts) are generated (once, cached) on
    first use."""
    root = Path(cfg.dataset.root)
    if cfg.dataset.name == "synthetic":
        from datasets.synthetic import embedded_default

        return Path(embedded_default(root))
    if cfg.dataset.get("synthetic"):
        from datasets.synthetic import embedded_uvo

        return Path(embedded_uvo(root))
    if not root.exists():
        how = ("put your videos there (JPEGImages/<video>/, Annotations/<video>/) or pass dataset.root=..."
               if cfg.dataset.name == "folder" else f"download it with `make data DATASET={cfg.dataset.name}`")
        raise DatasetError(
            f"dataset {cfg.dataset.name} not found at {root}\n"
            f"  set DATA_ROOT (or paths.data_root=..., or dataset.root=...) to the folder that holds it, or {how}"
        )
    return root


def select_videos(names: list[str], cfg: DictConfig) -> list[str]:
    """Apply ``videos``, ``limit_videos`` and sharding (``shard`` of ``num_shards``: every n-th video)."""
    if cfg.videos:
        unknown = sorted(set(cfg.videos) - set(names))
        if unknown:
            raise DatasetError(f"videos not in split {cfg.dataset.split} of {cfg.dataset.name}: {unknown}")
        wanted = set(cfg.videos)
        names = [name for name in names if name in wanted]
    if cfg.limit_videos:
        names = names[: int(cfg.limit_videos)]
    num_shards, shard = int(cfg.num_shards), int(cfg.shard)
    if num_shards < 1 or not 0 <= shard < num_shards:
        raise ValueError(f"shard={shard} num_shards={num_shards}: need num_shards >= 1 and 0 <= shard < num_shards")
    return names[shard::num_shards]


def load_videos(cfg: DictConfig) -> list[Video]:
    """The config's videos in split order (this shard's only when ``num_shards`` > 1); for VIS datasets
    `datasets.uvo.UvoVideo` objects (they carry ``video_id`` and ``gt_json``)."""
    options = OmegaConf.to_container(cfg.dataset.options, resolve=True) if cfg.dataset.get("options") else {}
    return read_videos(cfg.dataset.reader, dataset_root(cfg), cfg.dataset.split,
                       select=lambda names: select_videos(names, cfg), **options)


def has_ground_truth(videos: list[Video]) -> bool:
    """Whether every frame the run writes (``Video.frames_to_write``) of every video has a ground-truth
    annotation, so the split can be scored: all frames for DAVIS, the annotated frames for SA-V, LVOS and
    VOST; False for splits with first-frame masks only (YouTube-VOS, MOSE, LVOS test, DAVIS test-dev)."""
    return bool(videos) and all(set(video.frames_to_write) <= set(video.annotation_paths) for video in videos)
