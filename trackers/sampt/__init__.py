"""The SAM-PT method: `knobs.SamPtKnobs` (its settings), `engine` (the per-frame loop and the one way to run a
video, `model.SamPt.run_video`), `model.SamPt`, prompting, query points, reinit, patch filtering, VIS proposals."""
