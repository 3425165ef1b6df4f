"""``python -m experiments.run``: the Hydra app (`experiments.run.app.main`)."""
import sys

from experiments.run.app import main, unknown_preset

message = unknown_preset(sys.argv[1:])
if message:  # before Hydra, whose error would list no preset
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)
main()
