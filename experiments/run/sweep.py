"""Hydra callback: at the end of a multirun sweep, one table over all its runs (and a plot for one knob)."""
from __future__ import annotations

import logging
from pathlib import Path

from hydra.experimental.callback import Callback

from experiments.run.summary import write_sweep_table

log = logging.getLogger("sampt")


class SweepTable(Callback):
    """Writes ``<sweep dir>/sweep_results.csv`` (and ``sweep_<knob>.png``) when a multirun ends, and the
    sweep's report ``<sweep dir>/report/index.html`` unless ``logging.report=false`` (rank 0 only, in a
    sweep over several processes)."""

    def on_multirun_end(self, config, **kwargs) -> None:
        from experiments.run.ranks import discover

        if discover().rank != 0:  # a sweep over several processes: rank 0 writes the runs' records
            return
        table = write_sweep_table(Path(config.hydra.sweep.dir))
        if table is not None:
            log.info("sweep table: %s", table)
            if config.get("logging", {}).get("report", True):
                from experiments.run.app import write_report_safely

                write_report_safely(Path(config.hydra.sweep.dir))
