"""SAM-PT's own TAPIR wrapper for the recording of `tapir_authors` (scripts/record/trackers.py).

SAM-PT's `TapirPointTracker` (SysCV/sam-pt @ 874ff7e, `sam_pt/point_tracker/tapir/tracker.py`) runs its copy of
the JAX TAPIR (`sam_pt/point_tracker/tapir/tapir_model.py`, Haiku) on a `.npy` checkpoint holding
``{"params": {module: {name: array}}, "state": {}}``. The recording's weights are a PyTorch TAPIR state dict
(`tests.inputs.seeded_tracker_state`, the format our loader reads); `haiku_params` writes the same weights in the
Haiku layout, so that both run one set of weights.

Recording environment only (not this repository's requirements): jax, jaxlib, dm-haiku, chex, einshape, optax,
ml_collections, jaxline and einops (SAM-PT's `point_tracker` package imports PIPS). Two stand-ins:
TensorFlow, which the wrapper imports only to hide GPUs from it (`install_tensorflow_stand_in`), and
``jax.tree_map``, an alias of ``jax.tree_util.tree_map`` that SAM-PT's copy of TAPIR calls and that JAX
removed after the 0.4 series SAM-PT pinned (0.4.11, requirements-jax.txt).
"""
from __future__ import annotations

import importlib.machinery
import re
import sys
import types
from pathlib import Path

import numpy as np

#: our (the PyTorch TAPIR's) ResNet layer names -> the Haiku ones
_RESNET_LAYERS = {"proj_conv": "shortcut_conv", "bn_0": "instancenorm_0", "conv_0": "conv_0",
                  "bn_1": "instancenorm_1", "conv_1": "conv_1"}
#: the cost-volume heads
_COST_VOLUME_LAYERS = {"hid1": "cost_volume_regression_1", "hid2": "cost_volume_regression_2",
                       "hid3": "cost_volume_occlusion_1", "hid4": "cost_volume_occlusion_2",
                       "occ_out": "occlusion_out"}


def haiku_name(key: str) -> tuple[str, str]:
    """A PyTorch TAPIR (``pyramid_level=0``, no extra convs) state-dict key -> (Haiku module, parameter name).

    Raises:
        KeyError naming the key when it has no Haiku counterpart.
    """
    parts = key.split(".")
    param = parts[-1]
    if parts[0] == "resnet_torch":
        if parts[1] == "initial_conv":
            return "tapir/~/resnet/~/initial_conv", "w"
        group, block, layer = parts[2], parts[4], _RESNET_LAYERS[parts[5]]
        norm = layer.startswith("instancenorm")
        return (f"tapir/~/resnet/~/block_group_{group}/~/block_{block}/~/{layer}",
                ({"weight": "scale", "bias": "offset"} if norm else {"weight": "w"})[param])
    if parts[0] == "torch_cost_volume_track_mods":
        return f"tapir/~/{_COST_VOLUME_LAYERS[parts[1]]}", {"weight": "w", "bias": "b"}[param]
    if parts[0] == "torch_pips_mixer":
        module = "tapir/~/pips_mlp_mixer"
        if parts[1] == "blocks":
            index = int(parts[2])
            module += "/block" + (f"_{index}" if index else "")
            parts = [p for p in parts[3:] if p != "conv_channels_mixer"]
        else:
            parts = parts[1:]
        layer = parts[0]
        names = {"weight": "scale"} if re.fullmatch(r"layer_norm(_1)?", layer) else {"weight": "w", "bias": "b"}
        return f"{module}/{layer}", names[param]
    raise KeyError(f"{key}: not a key of the PyTorch TAPIR (pyramid_level=0, no extra convs)")


def haiku_array(value: np.ndarray) -> np.ndarray:
    """A PyTorch weight in Haiku's layout: Conv2D (O, I, kh, kw) -> (kh, kw, I, O), grouped Conv1D (O, 1, k) ->
    (k, 1, O), Linear (O, I) -> (I, O); vectors as they are."""
    axes = {4: (2, 3, 1, 0), 3: (2, 1, 0), 2: (1, 0), 1: (0,)}[value.ndim]
    return np.ascontiguousarray(np.transpose(value, axes), dtype=np.float32)


def haiku_params(state: dict) -> dict[str, dict[str, np.ndarray]]:
    """The PyTorch TAPIR ``state`` ({key: tensor}) as Haiku parameters {module: {name: array}}."""
    params: dict[str, dict[str, np.ndarray]] = {}
    for key, value in state.items():
        module, name = haiku_name(key)
        params.setdefault(module, {})[name] = haiku_array(value.detach().cpu().numpy())
    return params


def install_tensorflow_stand_in() -> None:
    """A `tensorflow` module whose ``config.experimental.set_visible_devices`` does nothing (the wrapper's only
    use of TensorFlow: keeping it off the GPU), and the ``jax.tree_map`` alias (module docstring)."""
    import jax

    tensorflow = types.ModuleType("tensorflow")
    tensorflow.__spec__ = importlib.machinery.ModuleSpec("tensorflow", None)
    tensorflow.config = types.SimpleNamespace(
        experimental=types.SimpleNamespace(set_visible_devices=lambda *args, **kwargs: None))
    sys.modules["tensorflow"] = tensorflow
    if not hasattr(jax, "tree_map"):
        jax.tree_map = jax.tree_util.tree_map


class SamPtTapir:
    """SAM-PT's `TapirPointTracker(checkpoint_path, visibility_threshold)` on the weights of a PyTorch TAPIR
    checkpoint, rebuilt at each `evaluate_batch` from the current ``state`` (so that `named_parameters`, the
    PyTorch tensors, can be changed in place for the recorder's sensitivity probe).

    Each call writes ``<checkpoint>.npy`` (`haiku_params`), checks that it has exactly the parameters (names
    and shapes) that the wrapper's TAPIR initialises, and calls the wrapper's ``evaluate_batch``.
    """

    def __init__(self, checkpoint: Path, visibility_threshold: float):
        import torch

        self.state = torch.load(checkpoint, map_location="cpu")
        self.npy = Path(checkpoint).with_suffix(".npy")
        self.visibility_threshold = visibility_threshold

    def eval(self):
        return self

    def named_parameters(self):
        return self.state.items()

    def evaluate_batch(self, rgbs, queries) -> dict:
        """SAM-PT's ``evaluate_batch``: (1, T, 3, H, W) uint8, (1, N, 3) (t, x, y) -> its outputs dict."""
        install_tensorflow_stand_in()
        sys.modules.pop("sam_pt.point_tracker.tapir", None)  # the stand-in of `install_stand_ins`
        from sam_pt.point_tracker.tapir import TapirPointTracker

        params = haiku_params(self.state)
        np.save(self.npy, np.array({"params": params, "state": {}}, dtype=object), allow_pickle=True)
        tracker = TapirPointTracker(str(self.npy), self.visibility_threshold)
        _check_parameters(params)
        return tracker.evaluate_batch(rgbs, queries)


def _check_parameters(params: dict) -> None:
    """Raise when ``params`` differ in names or shapes from what SAM-PT's TAPIR (its wrapper's settings) creates."""
    import haiku as hk
    import jax
    from sam_pt.point_tracker.tapir import tapir_model

    def forward(video, query_points):
        model = tapir_model.TAPIR(bilinear_interp_with_depthwise_conv=False, pyramid_level=0, use_causal_conv=False)
        return model(video=video, query_points=query_points, query_chunk_size=64, is_training=False)

    shapes = jax.eval_shape(hk.transform_with_state(forward).init, jax.random.PRNGKey(0),
                            jax.ShapeDtypeStruct((1, 2, 256, 256, 3), np.float32),
                            jax.ShapeDtypeStruct((1, 1, 3), np.float32))[0]
    expected = {(m, n): tuple(a.shape) for m, p in shapes.items() for n, a in p.items()}
    ours = {(m, n): tuple(a.shape) for m, p in params.items() for n, a in p.items()}
    if expected != ours:
        wrong = [key for key in ours if key in expected and ours[key] != expected[key]]
        raise RuntimeError(f"the Haiku parameters differ from SAM-PT's TAPIR: missing "
                           f"{sorted(set(expected) - set(ours))}, unexpected {sorted(set(ours) - set(expected))}, "
                           f"shapes {wrong}")
