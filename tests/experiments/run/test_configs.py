"""Every Hydra config option composes, resolves and matches the code it configures (no model is built).

Composes `configs/eval.yaml` with each dataset, model, tracker, segmenter, launcher and experiment option;
checks model keys against `SamPt.__init__`, tracker/segmenter names and options against their registries
and constructors, checkpoint file names against the registered `CheckpointInfo`, and that each experiment
preset sets what its header comment claims.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import MissingConfigException
from omegaconf import OmegaConf

import experiments  # noqa: F401  (registers the `or_default` resolver configs/eval.yaml uses)

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
DATA_ROOT, CHECKPOINT_DIR, CACHE_DIR = "/data-root", "/ckpt-dir", "/cache-dir"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


def presets_in_configs() -> list[str]:
    """Experiment presets by folder (`paper/sampt`, ...); `experiment/_base/` holds what they extend."""
    folder = CONFIGS / "experiment"
    names = (str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.yaml"))
    return sorted(name for name in names if not name.startswith("_base/"))


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("DATA_ROOT", DATA_ROOT)
    monkeypatch.setenv("CHECKPOINT_DIR", CHECKPOINT_DIR)
    monkeypatch.setenv("SAMPT_CACHE", CACHE_DIR)


def compose_eval(*overrides: str, hydra_config: bool = False):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose("eval", overrides=list(overrides), return_hydra_config=hydra_config)


def resolved(*overrides: str) -> dict:
    return OmegaConf.to_container(compose_eval(*overrides), resolve=True)


def import_path(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def accepted_keywords(*callables) -> set[str]:
    """Keyword argument names the callables accept together (``**kwargs`` excluded)."""
    names: set[str] = set()
    for function in callables:
        params = inspect.signature(function).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return names


def registered_checkpoints() -> dict:
    from experiments.tools.download import load_checkpoint_registry
    from trackers.checkpoints import CHECKPOINTS

    load_checkpoint_registry()
    return CHECKPOINTS


# ------------------------------------------------------------------------------------------- datasets
DATASETS = {  # option -> (reader, root under DATA_ROOT, split)
    "davis16": ("davis16", "DAVIS2016", "val"),
    "davis17": ("davis17", "DAVIS", "val"),
    "davis17_testdev": ("davis17", "DAVIS-test-dev", "test-dev"),
    "ytvos18": ("ytvos18", "YouTube2018", "valid"),
    "ytvos19": ("ytvos19", "YouTube2019", "valid"),
    "mose": ("mose", "mose", "valid"),
    "sav": ("sav", "SA-V", "val"),
    "lvos": ("lvos", "LVOS_v2", "valid"),
    "vost": ("vost", "VOST", "val"),
    "mosev2": ("mosev2", "MOSEv2", "valid"),
    "folder": ("folder", "folder", "all"),
    "lv1": ("lv1", "long_video_set", "val"),
    "lv3": ("lv3", "long_video_set", "val"),
    "bdd100k": ("bdd100k", "bdd100k/vos", "val"),
}


def test_every_expected_option_exists():
    assert set(DATASETS) | {"synthetic"} <= set(options("dataset"))
    from trackers.point.base import TRACKERS
    from trackers.segmenters.base import SEGMENTERS

    assert set(options("tracker")) == set(TRACKERS)
    assert {composed_name("segmenter", o) for o in options("segmenter")} == set(SEGMENTERS)
    assert {"sampt", "sampt_reinit", "sampt_authors_code"} <= set(options("model"))
    assert {"local", "joblib", "submitit_slurm", "submitit_local"} <= set(options("hydra/launcher"))


@pytest.mark.parametrize("option", options("dataset"))
def test_dataset_options_compose_and_match_their_reader(option):
    from datasets.registry import READERS

    cfg = resolved(f"dataset={option}")["dataset"]
    assert {"name", "reader", "root", "split", "options"} <= set(cfg), f"dataset={option} lacks a required key"
    assert cfg["name"] == option, f"dataset={option} has name {cfg['name']}"
    assert cfg["reader"] in READERS, f"{option}: reader {cfg['reader']} not in datasets.registry.READERS"
    reader = import_path(READERS[cfg["reader"]])
    allowed = accepted_keywords(reader.__init__) - {"self", "root", "split"}
    unknown = set(cfg["options"] or {}) - allowed
    assert not unknown, f"dataset={option}: options {unknown} not accepted by {reader.__name__}({sorted(allowed)})"
    if option in DATASETS:
        reader_name, folder, split = DATASETS[option]
        assert (cfg["reader"], cfg["root"], cfg["split"]) == (reader_name, f"{DATA_ROOT}/{folder}", split)
    if option.startswith("ytvos"):
        assert "all_frames" in cfg["options"]


def test_synthetic_default_lives_in_the_cache_dir():
    cfg = resolved()
    assert cfg["dataset"]["name"] == "synthetic" and cfg["dataset"]["root"] == f"{CACHE_DIR}/synthetic"
    assert (cfg["tracker"]["name"], cfg["segmenter"]["name"]) == ("lk", "grabcut")


# ------------------------------------------------------------------------------------------- model
def sampt_knobs() -> dict[str, object]:
    """knob name -> default: the fields of `trackers.sampt.knobs.SamPtKnobs`, what `SamPt` takes."""
    from trackers.sampt.knobs import knob_defaults

    return knob_defaults()


def check_model(model: dict, where: str):
    from trackers.sampt.model import SamPt

    unknown = set(model) - set(sampt_knobs())
    assert not unknown, f"{where}: model keys {unknown} are not SamPt keyword arguments"
    assert "seed" not in model, f"{where}: the seed is passed by the runner, not in cfg.model"
    SamPt(object(), object(), seed=0, **model)  # validates every value; stores the tracker/segmenter only


@pytest.mark.parametrize("option", options("model"))
def test_model_options_are_valid_sampt_arguments(option):
    model = resolved(f"model={option}")["model"]
    check_model(model, f"model={option}")
    assert set(model) == set(sampt_knobs()), f"model={option} misses {set(sampt_knobs()) - set(model)}"


def test_paper_model_has_the_paper_values_and_sampt_defaults_elsewhere():
    model = resolved("model=sampt")["model"]
    paper = {"positive_points_per_mask": 8, "negative_points_per_mask": 1,
             "positive_point_selection_method": "kmedoids", "negative_point_selection_method": "mixed",
             "iterative_refinement_iterations": 12, "sam_iou_threshold": 0.7,
             "add_other_objects_positive_points_as_negative_points": True, "use_patch_matching_filtering": False,
             "patch_size": 3, "use_point_reinit": False, "reinit_horizon": 8, "reinit_point_tracker_horizon": 8,
             "reinit_variant": "reinit-on-horizon-and-sync-masks"}
    assert {k: model[k] for k in paper} == paper
    for name, default in sampt_knobs().items():
        if name not in paper:
            assert model[name] == default, f"model.{name}={model[name]} but SamPt's default is {default}"


def test_reinit_and_authors_code_models():
    reinit = resolved("model=sampt_reinit")["model"]
    assert (reinit["use_point_reinit"], reinit["negative_points_per_mask"], reinit["reinit_horizon"],
            reinit["reinit_point_tracker_horizon"], reinit["reinit_variant"], reinit["iterative_refinement_iterations"]
            ) == (True, 72, 8, 8, "reinit-on-horizon-and-sync-masks", 12)
    authors = resolved("model=sampt_authors_code")["model"]
    assert (authors["positive_points_per_mask"], authors["negative_points_per_mask"],
            authors["iterative_refinement_iterations"], authors["use_point_reinit"], authors["reinit_horizon"],
            authors["reinit_variant"]) == (16, 1, 12, False, 24, "reinit-at-median-of-area-diff")


# ------------------------------------------------------------------------------------------- trackers, segmenters
def composed_name(group: str, option: str) -> str:
    return OmegaConf.load(CONFIGS / group / f"{option}.yaml")["name"]


def check_checkpoint(kind: str, cfg: dict, needs_checkpoint: bool, official: dict):
    name = cfg["name"]
    if not needs_checkpoint:
        assert cfg["checkpoint"] is None, f"{kind} {name} is weight-free but has checkpoint {cfg['checkpoint']}"
        return
    path = Path(cfg["checkpoint"])
    assert str(path).startswith(CHECKPOINT_DIR + "/"), f"{kind} {name}: {path} not under paths.checkpoint_dir"
    assert path.name == official[name], f"{kind} {name}: {path.name} != registered {official[name]}"


@pytest.mark.parametrize("option", options("tracker"))
def test_tracker_options(option):
    from trackers.point.base import TRACKERS

    cfg = resolved(f"tracker={option}")["tracker"]
    assert set(cfg) == {"name", "checkpoint", "options"} and cfg["name"] == option
    assert cfg["name"] in TRACKERS
    module, class_name = TRACKERS[cfg["name"]].split(":")
    official = {k: info.filename for k, info in registered_checkpoints().items()}
    official["superglue"] = official["superglue_outdoor"]  # its main file; superpoint_v1.pth lies beside it
    if importlib.util.find_spec(module) is None:  # not implemented yet (pips2): official name, no options
        assert option == "pips2", f"tracker module {module} is missing"
        assert Path(cfg["checkpoint"]).name == official.get("pips2", "model-000200000.pth")
        assert cfg["options"] == {}
        return
    cls = getattr(importlib.import_module(module), class_name)
    check_checkpoint("tracker", cfg, cls.needs_checkpoint, official)
    allowed = accepted_keywords(cls.__init__) - {"self", "checkpoint", "device", "net"}
    unknown = set(cfg["options"]) - allowed
    assert not unknown, f"tracker={option}: options {unknown} not accepted by {cls.__name__}({sorted(allowed)})"
    for key, value in cfg["options"].items():  # the configs state the constructor defaults
        default = inspect.signature(cls.__init__).parameters[key].default
        if default is None and hasattr(cls, f"default_{key}"):  # a per-model default (BootsTAPIR's temperature)
            default = getattr(cls, f"default_{key}")
        if default is not inspect.Parameter.empty and key != "visibility_threshold":
            assert value == (list(default) if isinstance(default, tuple) else default), f"tracker={option}.{key}"


@pytest.mark.parametrize("option", options("segmenter"))
def test_segmenter_options(option):
    from trackers.segmenters.base import SEGMENTERS

    cfg = resolved(f"segmenter={option}")["segmenter"]
    assert set(cfg) == {"name", "checkpoint", "options"} and cfg["name"] in SEGMENTERS
    assert option == cfg["name"].replace("+", "_plus")
    factory = import_path(SEGMENTERS[cfg["name"]])
    weight_free = cfg["name"] == "grabcut"
    check_checkpoint("segmenter", cfg, not weight_free, {k: i.filename for k, i in registered_checkpoints().items()})
    if weight_free:
        allowed = accepted_keywords(factory.__init__) - {"self"}
    else:
        wrapper = inspect.signature(factory).return_annotation
        module = importlib.import_module(factory.__module__)
        wrapper = getattr(module, wrapper) if isinstance(wrapper, str) else wrapper
        allowed = (accepted_keywords(factory) | accepted_keywords(wrapper.__init__)) - {
            "self", "checkpoint", "device", "sam", "model"}
    unknown = set(cfg["options"]) - allowed
    assert not unknown, f"segmenter={option}: options {unknown} not accepted ({sorted(allowed)})"
    if "hq_token_only" in cfg["options"]:
        assert cfg["name"].startswith("hqsam"), "hq_token_only is for HQ-SAM decoders only"


# ------------------------------------------------------------------------------------------- launchers
LAUNCHER_TARGETS = {
    "local": "hydra._internal.core_plugins.basic_launcher.BasicLauncher",
    "joblib": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
    "submitit_local": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher",
    "submitit_slurm": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
}


@pytest.mark.filterwarnings("ignore:(?s).*validated against ConfigStore schema")
@pytest.mark.parametrize("option", options("hydra/launcher"))
def test_launcher_options(option):
    cfg = compose_eval(f"hydra/launcher={option}", "output_dir=/tmp/run", hydra_config=True)
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    target = launcher["_target_"]
    assert target == LAUNCHER_TARGETS[option]
    module, name = target.rsplit(".", 1)
    assert hasattr(importlib.import_module(module), name)
    if option.startswith("submitit"):
        from hydra_plugins.hydra_submitit_launcher import config as plugin

        schema = plugin.SlurmQueueConf if option == "submitit_slurm" else plugin.LocalQueueConf
        assert set(launcher) == set(OmegaConf.structured(schema).keys())
        assert launcher["gpus_per_node"] == 1 and launcher["submitit_folder"].startswith("/tmp/run/.submitit")
    if option == "joblib":
        assert launcher["n_jobs"] >= 1


# ------------------------------------------------------------------------------------------- experiments
PAPER = {"model": "sampt", "tracker": "pips", "segmenter": "sam_vit_h"}
REINIT = {"model.use_point_reinit": True, "model.negative_points_per_mask": 72, "model.reinit_horizon": 8,
          "model.reinit_variant": "reinit-on-horizon-and-sync-masks"}
D17 = {"dataset.name": "davis17"}


def tab2(np_: int, iri: int, **extra) -> dict:
    return {**D17, "tracker.name": "pips", "segmenter.name": "sam_vit_h", "model.positive_points_per_mask": 8,
            "model.negative_points_per_mask": np_, "model.iterative_refinement_iterations": iri, **extra}


EXPECTED = {  # preset -> {dotted key: value} it must set (beyond its header comment)
    "paper/sampt": {**D17, "tracker.name": "pips", "segmenter.name": "sam_vit_h", "model.negative_points_per_mask": 1,
              "model.iterative_refinement_iterations": 12, "model.use_point_reinit": False},
    "paper/sampt_reinit": {**D17, **REINIT, "segmenter.name": "sam_vit_h", "model.iterative_refinement_iterations": 12},
    "paper/hqsampt": {**D17, "segmenter.name": "hqsam_vit_h", "model.iterative_refinement_iterations": 3,
                "model.use_point_reinit": False, "tracker.name": "pips"},
    "paper/hqsampt_reinit": {**D17, **REINIT, "segmenter.name": "hqsam_vit_h", "model.iterative_refinement_iterations": 3},
    "paper/sampt_davis16": {"dataset.name": "davis16", "model.iterative_refinement_iterations": 12},
    "paper/sampt_reinit_davis16": {"dataset.name": "davis16", **REINIT},
    "paper/sampt_davis17_testdev": {"dataset.name": "davis17_testdev", "dataset.split": "test-dev"},
    "paper/sampt_reinit_davis17_testdev": {"dataset.name": "davis17_testdev", **REINIT},
    "paper/sampt_ytvos": {"dataset.name": "ytvos18", "model.iterative_refinement_iterations": 12},
    "paper/sampt_reinit_ytvos": {"dataset.name": "ytvos18", **REINIT, "model.iterative_refinement_iterations": 0},
    "paper/sampt_mose": {"dataset.name": "mose", "model.iterative_refinement_iterations": 0, "model.use_point_reinit": False},
    "paper/sampt_reinit_mose": {"dataset.name": "mose", **REINIT, "model.iterative_refinement_iterations": 0},
    # no paper target: the MOSE exception (no refinement); SA-V writes per-object (overlapping) masks
    **{f"paper/sampt_{d}": {"dataset.name": d, "model.iterative_refinement_iterations": 0,
                            "model.use_point_reinit": False, "dataset.save_overlapping_masks": d == "sav"}
       for d in ("sav", "lvos", "vost", "mosev2")},
    **{f"paper/sampt_reinit_{d}": {"dataset.name": d, **REINIT, "model.iterative_refinement_iterations": 0,
                                   "dataset.save_overlapping_masks": d == "sav"} for d in ("sav", "lvos", "vost", "mosev2")},
    # no paper target: the paper's knobs unchanged (the authors' command for LV has no override)
    **{f"paper/sampt_{d}": {"dataset.name": d, "model.iterative_refinement_iterations": 12,
                            "model.use_point_reinit": False} for d in ("lv1", "lv3")},
    "paper/sampt_uvo": {"dataset.name": "uvo", "model.iterative_refinement_iterations": 0,
                  "model.add_other_objects_positive_points_as_negative_points": False},
    "paper/sampt_reinit_uvo": {"dataset.name": "uvo", "model.use_point_reinit": True, "model.negative_points_per_mask": 8,
                         "model.iterative_refinement_iterations": 0,
                         "model.add_other_objects_positive_points_as_negative_points": False},
    "ablations/tab2a_pips": tab2(0, 0),
    "ablations/tab2a_raft": {**tab2(0, 0, **{"tracker.name": "raft"}), "tracker.options.iterations": 32,
                   "tracker.options.fb_threshold": None, "tracker.options.chaining": "sampt"},
    "ablations/tab2a_superglue": tab2(0, 0, **{"tracker.name": "superglue"}),
    "ablations/tab2a_superglue_iri3": tab2(0, 3, **{"tracker.name": "superglue"}),
    "ablations/tab2a_tapnet": tab2(0, 0, **{"tracker.name": "tapnet"}),
    **{f"ablations/tab2b_np{n}": tab2(n, 0) for n in (0, 1, 8, 16, 72)},
    **{f"ablations/tab2c_iri{i}": tab2(1, i) for i in (0, 1, 3, 12)},
    "ablations/tab2d_ps_none": tab2(1, 12, **{"model.use_patch_matching_filtering": False}),
    "ablations/tab2d_ps_0002": tab2(1, 12, **{"model.use_patch_matching_filtering": True,
                                    "model.patch_similarity_threshold": 0.002}),
    "ablations/tab2d_ps_001": tab2(1, 12, **{"model.use_patch_matching_filtering": True,
                                   "model.patch_similarity_threshold": 0.01}),
    "ablations/fig5": {**tab2(0, 0), "model.positive_point_selection_method": "kmedoids"},
    **{f"ablations/fig6_reinit_{k}": {**D17, "model.use_point_reinit": True, "model.negative_points_per_mask": 72,
                            "model.iterative_refinement_iterations": 12, "model.reinit_horizon": 8,
                            "model.reinit_variant": v}
       for k, v in (("a", "reinit-on-horizon-and-sync-masks"), ("b", "reinit-at-median-of-area-diff"),
                    ("c", "reinit-on-similar-mask-area"), ("d", "reinit-on-similar-mask-area-and-sync-masks"))},
    "speed/sam_vit_h": {**D17, "segmenter.name": "sam_vit_h", "model.iterative_refinement_iterations": 12},
    "speed/sam_vit_l": {**D17, "segmenter.name": "sam_vit_l", "model.iterative_refinement_iterations": 12},
    "speed/sam_vit_b": {**D17, "segmenter.name": "sam_vit_b", "model.iterative_refinement_iterations": 12},
    "speed/hqsam_vit_h": {**D17, "segmenter.name": "hqsam_vit_h", "model.iterative_refinement_iterations": 12},
    "speed/light_hqsam": {**D17, "segmenter.name": "hqsam_vit_tiny", "model.iterative_refinement_iterations": 3},
    "speed/mobilesam": {**D17, "segmenter.name": "mobilesam", "model.iterative_refinement_iterations": 3},
    "code_defaults/embedded_default": {"dataset.name": "synthetic", "tracker.name": "lk", "segmenter.name": "grabcut"},
    "code_defaults/authors_code": {"segmenter.name": "hqsam_vit_h", "model.positive_points_per_mask": 16,
                                   "tracker.name": "cotracker_v1", "tracker.options.support_grid_every": 12,
                                   "tracker.options.visibility_threshold": 0.7},
    "code_defaults/authors_tapir": {"segmenter.name": "hqsam_vit_h", "model.positive_points_per_mask": 32,
                                    "model.negative_points_per_mask": 72, "model.iterative_refinement_iterations": 24,
                                    "tracker.name": "tapir", "tracker.options.coordinates": "sampt",
                                    "tracker.options.visibility_threshold": 0.1},
    # the authors' BDD100K command: their code defaults without refinement
    "code_defaults/authors_code_bdd100k": {"dataset.name": "bdd100k", "dataset.split": "val",
                                           "dataset.save_overlapping_masks": False, "segmenter.name": "hqsam_vit_h",
                                           "tracker.name": "cotracker_v1", "model.positive_points_per_mask": 16,
                                           "model.negative_points_per_mask": 1,
                                           "model.iterative_refinement_iterations": 0, "longest_side": 1024},
}


def test_every_preset_has_expectations_and_a_readme_entry():
    readme = (CONFIGS / "experiment" / "README.md").read_text()
    assert set(presets_in_configs()) == set(EXPECTED)
    for option in presets_in_configs():
        assert f"`{option}`" in readme, f"experiment {option} is not listed in configs/experiment/README.md"


@pytest.mark.parametrize("option", presets_in_configs())
def test_experiment_presets(option):
    lines = (CONFIGS / "experiment" / f"{option}.yaml").read_text().splitlines()
    assert lines[0] == "# @package _global_"
    header = " ".join(line for line in lines[1:4] if line.startswith("#"))
    source = [tag for tag in ("Tab.", "Fig.", "speed table", "no paper target") if tag in header]
    assert source and "target" in header.lower(), f"experiment {option}: header names no table/figure/target"
    if "no paper target" not in header and "plot only" not in header:
        assert re.search(r"\d+\.\d+", header), f"experiment {option}: header states no target number"
    cfg = compose_eval(f"experiment={option}")
    container = OmegaConf.to_container(cfg, resolve=True)
    check_model(container["model"], f"experiment={option}")
    for key, value in EXPECTED[option].items():
        actual = OmegaConf.select(cfg, key)
        assert actual == value, f"experiment={option}: {key}={actual} != {value}"
    if container["tracker"]["checkpoint"] is not None:
        assert container["tracker"]["checkpoint"].startswith(CHECKPOINT_DIR)


def test_command_line_wins_over_a_preset_and_sweeps_compose():
    cfg = compose_eval("experiment=paper/sampt_mose", "dataset=davis16", "model.iterative_refinement_iterations=3")
    chosen = (cfg.dataset.name, cfg.model.iterative_refinement_iterations, cfg.segmenter.name)
    assert chosen == ("davis16", 3, "sam_vit_h")
    for method in ("random", "kmedoids", "shi-tomasi", "mixed"):
        cfg = compose_eval("experiment=ablations/fig5", "model.positive_points_per_mask=1",
                           f"model.positive_point_selection_method={method}")
        check_model(OmegaConf.to_container(cfg.model, resolve=True), f"fig5 {method}")


# ------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("group,valid", [("dataset", "davis17_testdev"), ("model", "sampt_reinit"),
                                         ("tracker", "cotracker3_online"), ("segmenter", "sam2_hiera_b_plus")])
def test_unknown_option_lists_the_valid_ones(group, valid):
    with pytest.raises(MissingConfigException) as error:
        compose_eval(f"{group}=nope")
    message = str(error.value)
    assert f"Could not find '{group}/nope'" in message and f"Available options in '{group}'" in message
    assert valid in message


def test_unknown_preset_lists_the_presets_before_hydra_runs():
    """Hydra lists no options of the presets' folders: `python -m experiments.run` does (app.unknown_preset)."""
    from experiments.run.app import presets, unknown_preset

    assert presets() == presets_in_configs()
    assert unknown_preset(["experiment=paper/sampt", "experiment=null", "seed=1"]) is None
    assert unknown_preset(["-m", "experiment=ablations/fig5,ablations/tab2a_pips"]) is None
    message = unknown_preset(["dataset=davis17", "experiment=sampt_mose"])
    assert "no experiment preset 'sampt_mose'" in message and "did you mean experiment=paper/sampt_mose?" in message
    assert "ablations/fig5" in message and "_base" not in message
    assert "did you mean" not in unknown_preset(["-m", "experiment=paper/sampt,paper/nope"])


def test_makefile_dataset_name_with_a_dash_is_not_an_option():
    with pytest.raises(MissingConfigException, match="davis17_testdev"):
        compose_eval("dataset=davis17-testdev")


def test_run_dir_defaults_to_a_fresh_folder_under_outputs(monkeypatch):
    monkeypatch.setenv("DATA_ROOT", "/data")
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name="eval", return_hydra_config=True)
        run_dir = OmegaConf.select(cfg, "hydra.run.dir")
        fixed = compose(config_name="eval", overrides=["output_dir=/x/run"], return_hydra_config=True)
    assert re.fullmatch(r"outputs/\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d", run_dir)
    assert OmegaConf.select(fixed, "hydra.run.dir") == "/x/run"


@pytest.mark.parametrize("override, message", [
    ("model.positive_points_per_mask=many", "could not be converted to Integer"),
    ("model.negativ_points=1", "Could not override 'model.negativ_points'"),
    ("tracker.checkpoint=[1]", "tracker.checkpoint"),
    ("num_shards=two", "could not be converted to Integer"),
])
def test_schema_rejects_wrong_types_and_misspelt_keys(override, message):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        with pytest.raises(Exception) as error:
            compose(config_name="eval", overrides=[override])
    assert message in f"{error.value} {error.value.__cause__}"


@pytest.mark.parametrize("option", presets_in_configs())
def test_paper_presets_work_at_the_authors_resolution(option):
    """Every VOS paper preset runs at the authors' 1024 long side, DAVIS ones on Full-Resolution frames;
    VIS (UVO) presets at their Detectron2 size; the embedded default at the native size."""
    cfg = resolved(f"experiment={option}")
    if option == "code_defaults/embedded_default" or cfg["dataset"].get("task") == "vis":
        assert cfg["longest_side"] is None
        return
    assert cfg["longest_side"] == 1024, f"experiment={option}"
    if cfg["dataset"]["reader"].startswith("davis"):
        assert cfg["dataset"]["options"]["frames_resolution"] == "Full-Resolution", f"experiment={option}"
    assert cfg["segmenter"]["options"].get("autocast_bf16", False) is False


def test_native_size_reads_the_davis_frames_of_the_annotation_resolution():
    assert resolved()["longest_side"] is None
    for dataset in ("davis17", "davis16", "davis17_testdev"):
        cfg = resolved(f"dataset={dataset}")
        assert cfg["dataset"]["options"]["frames_resolution"] is None
        # the dataset config follows no other key: the working size alone does not change the frames read
        assert resolved(f"dataset={dataset}", "longest_side=1024")["dataset"]["options"]["frames_resolution"] is None


BASE_LINES = ("- override /model: sampt", "- override /tracker: pips", "- override /segmenter: sam_vit_h",
              "- override /dataset: davis17", "longest_side: 1024", "frames_resolution: Full-Resolution")


@pytest.mark.parametrize("option", presets_in_configs())
def test_presets_state_only_what_differs_from_their_base(option):
    """The shared lines live once in configs/experiment/_base/; a preset overrides only what differs."""
    lines = [line.strip() for line in (CONFIGS / "experiment" / f"{option}.yaml").read_text().splitlines()]
    repeated = [line for line in lines if line in BASE_LINES]
    if option == "code_defaults/embedded_default":
        assert not any(line.startswith("- /experiment/_base/") for line in lines)
        return
    assert lines.count("- _self_") == 1 and lines.index("- _self_") > 0
    bases = [line for line in lines if line.startswith("- /experiment/_base/")]
    assert len(bases) == 1, f"experiment={option}: extends {bases}, not one base"
    assert not repeated, f"experiment={option} repeats {repeated} of its base"


# ------------------------------------------------------------------------------------------- knob defaults
def test_knob_defaults_are_written_once_and_every_view_agrees():
    """`trackers.sampt.knobs.SamPtKnobs` holds the defaults; SamPt's signature and the Hydra schema show
    the same names and values (the paper's: reinit variant A, horizon 8); configs/model/sampt.yaml sets no
    value (the schema supplies them) and model=sampt composes to exactly the defaults."""
    import dataclasses

    from experiments.run.schema import ModelSchema
    from trackers.sampt.knobs import knob_defaults
    from trackers.sampt.model import SamPt

    defaults = knob_defaults()
    signature = {name: getattr(SamPt(None, None), name) for name in defaults}
    schema = {field.name: field.default for field in dataclasses.fields(ModelSchema)}
    yaml_values = OmegaConf.load(CONFIGS / "model" / "sampt.yaml")
    assert signature == defaults, "SamPt's default knobs differ from trackers/sampt/knobs.py"
    assert schema == defaults, "experiments.run.schema.ModelSchema differs from trackers/sampt/knobs.py"
    assert not yaml_values, "configs/model/sampt.yaml repeats values of trackers/sampt/knobs.py: delete them"
    assert resolved("model=sampt")["model"] == defaults
    assert (defaults["reinit_variant"], defaults["reinit_horizon"], defaults["reinit_point_tracker_horizon"]) == (
        "reinit-on-horizon-and-sync-masks", 8, 8)
