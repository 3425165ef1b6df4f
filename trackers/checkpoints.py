"""Official checkpoint files: where they come from, their md5, and clear errors when one is missing.

Each model that loads an official file registers a `CheckpointInfo` here. `require_checkpoint` checks
that the file exists (and, when asked, its md5) and otherwise raises `CheckpointError` naming the file,
its official source, its md5 and the make target that downloads it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra.files import md5sum

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


def read_state_dict(path: str | Path, expected: str, key: str | None = None, unwrap: str | None = None) -> dict:
    """Read a checkpoint file (``torch.load``, tensors only) and return its state dict.

    Args:
        expected: what the file should be, named in every error (e.g. the official file name).
        key: the state dict is stored under this key of a dict (PIPS: ``model_state_dict``, SAM 2: ``model``).
        unwrap: like ``key`` but optional (CoTracker: ``{"model": ...}`` or a plain state dict).

    Raises:
        CheckpointError: the file cannot be read, or does not hold a state dict of tensors where expected.
    """
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - truncated, not a torch file, or pickled objects
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(f"cannot read checkpoint {path}: it could not be read as a torch file ({reason}); "
                              f"expected {expected}") from None
    found = sorted(map(str, checkpoint))[:5] if isinstance(checkpoint, dict) else type(checkpoint).__name__
    if key is not None:
        if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get(key), dict):
            raise CheckpointError(f"checkpoint {path} is not in the official {expected} format: not a dict with "
                                  f"'{key}' (found {found})")
        checkpoint = checkpoint[key]
    elif unwrap is not None and isinstance(checkpoint, dict) and isinstance(checkpoint.get(unwrap), dict):
        checkpoint = checkpoint[unwrap]
    if not isinstance(checkpoint, dict) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise CheckpointError(f"checkpoint {path} is not in the official {expected} format: not a plain "
                              f"state_dict of tensors (found {found})")
    return checkpoint


#: what a pickled .npy checkpoint may name: numpy's array reconstruction and plain containers (the pickle
#: counterpart of ``torch.load(weights_only=True)``); anything else (code, optimizer objects) is refused
ALLOWED_PICKLE_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    ("builtins", "dict"), ("builtins", "list"), ("builtins", "tuple"), ("collections", "OrderedDict"),
})


def read_pickled_npy(path: str | Path, expected: str):
    """The object stored by ``np.save(path, obj, allow_pickle=True)`` (e.g. a JAX/Haiku checkpoint dict), unpickled
    with only `ALLOWED_PICKLE_GLOBALS`; a plain (non-object) .npy array is returned as it is.

    Raises:
        CheckpointError naming the file and ``expected`` (what it should be) when it is not a .npy file, is
        truncated, or its pickle names anything else (the name is given).
    """
    import pickle

    import numpy as np

    class _Restricted(pickle.Unpickler):
        def find_class(self, module: str, name: str):
            if (module, name) not in ALLOWED_PICKLE_GLOBALS:
                raise CheckpointError(f"checkpoint {path} pickles {module}.{name}, which is not allowed (only numpy "
                                      f"arrays in plain containers are loaded); expected {expected}")
            return super().find_class(module, name)

    try:
        with open(path, "rb") as file:
            version = np.lib.format.read_magic(file)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f".npy format version {version} is not supported")
            dtype = read_header(file, max_header_size=1 << 20)[2]
            if not dtype.hasobject:
                file.seek(0)
                return np.load(file, allow_pickle=False)
            return _Restricted(file).load()[()]
    except CheckpointError:
        raise
    except Exception as error:  # noqa: BLE001 - not a .npy file, truncated, a broken pickle
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(f"cannot read checkpoint {path} as a .npy file ({reason}); expected {expected}") from None
