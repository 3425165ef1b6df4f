"""The Hydra entry points: run a config over a dataset, write predictions, evaluate, log; sweeps; demo."""
from omegaconf import OmegaConf

# configs/eval.yaml: `output_dir: null` means "a fresh folder under outputs/" (oc.select would keep the None)
if not OmegaConf.has_resolver("or_default"):
    OmegaConf.register_new_resolver("or_default", lambda value, default: default if value is None else value)

from experiments.run.schema import register as _register_schema  # noqa: E402

_register_schema()
