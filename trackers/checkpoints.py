"""Official checkpoint files: where they come from, their md5, and clear errors when one is missing.

Each model that loads an official file registers a `CheckpointInfo` here. `require_checkpoint` checks
that the file exists (and, when asked, its md5) and otherwise raises `CheckpointError` naming the file,
its official source, its md5 and the make target that downloads it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CHECKPOINT_DIR = Path("checkpoints")


class CheckpointError(Exception):
    """A checkpoint file is missing, corrupt or not the expected format."""


@dataclass(frozen=True)
class CheckpointInfo:
    """An official checkpoint file.

    Attributes:
        key: short name used by `make checkpoints MODEL=<key>`.
        filename: the official file name.
        url: where the official release serves it.
        md5: md5 of the official file ("" when not published/recorded).
        size: size in bytes of the official file (0 when unknown).
    """

    key: str
    filename: str
    url: str
    md5: str = ""
    size: int = 0

    def missing_message(self, path: Path) -> str:
        md5 = f", md5 {self.md5}" if self.md5 else ""
        return (
            f"checkpoint file not found: {path}\n"
            f"  it is the official {self.filename} from {self.url}{md5}\n"
            f"  download it with `make checkpoints MODEL={self.key}` (into {DEFAULT_CHECKPOINT_DIR}/), or pass "
            f"the path of your copy"
        )


CHECKPOINTS: dict[str, CheckpointInfo] = {}


def register(info: CheckpointInfo) -> CheckpointInfo:
    CHECKPOINTS[info.key] = info
    return info


def md5sum(path: str | Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def require_checkpoint(path: str | Path | None, info: CheckpointInfo, verify_md5: bool = False) -> Path:
    """Return the checkpoint path, or raise `CheckpointError` saying what is missing and how to get it.

    ``path`` None means the default location ``checkpoints/<filename>``.
    """
    path = Path(path) if path is not None else DEFAULT_CHECKPOINT_DIR / info.filename
    if not path.is_file():
        raise CheckpointError(info.missing_message(path))
    if info.size and path.stat().st_size != info.size:
        raise CheckpointError(
            f"checkpoint {path} has {path.stat().st_size} bytes but the official {info.filename} has {info.size}: "
            f"the file is truncated or a different release; re-download it with `make checkpoints MODEL={info.key}`"
        )
    if verify_md5 and info.md5:
        actual = md5sum(path)
        if actual != info.md5:
            raise CheckpointError(
                f"checkpoint {path} has md5 {actual}, expected {info.md5} (official {info.filename} from {info.url}); "
                f"re-download it with `make checkpoints MODEL={info.key}`"
            )
    return path


def load_state_dict_strict(module, state_dict: dict, path: str | Path) -> None:
    """``module.load_state_dict(state_dict, strict=True)`` with an error naming the file and the key mismatch."""
    expected = set(module.state_dict().keys())
    given = set(state_dict.keys())
    missing, unexpected = sorted(expected - given), sorted(given - expected)
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {path} does not match {type(module).__name__}: {len(missing)} missing keys "
            f"{missing[:5]}{' ...' if len(missing) > 5 else ''}, {len(unexpected)} unexpected keys "
            f"{unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}"
        )
    try:
        module.load_state_dict(state_dict, strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"checkpoint {path} does not fit {type(module).__name__}: {error}") from None
