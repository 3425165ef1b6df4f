"""``python -m experiments.run``: the Hydra app (`experiments.run.app.main`)."""
from experiments.run.app import main

main()
