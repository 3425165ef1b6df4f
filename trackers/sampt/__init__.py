"""The SAM-PT method: `model.SamPt` (the per-frame loop), its prompting, query points, reinit, filters and VIS proposals."""
