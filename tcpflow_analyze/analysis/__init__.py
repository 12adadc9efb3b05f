"""The analysis: captures in, finished connections out.

``analyze`` is the one way to run the engine, for a whole capture or for
one partition of it (``parallel`` runs the same function in each worker);
``Analysis`` is what every later stage -- detectors, views, renderers --
reads.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..capture import read_windows
from ..engine.folding import Folds
from ..engine.loop import CaptureStats, run
from ..engine.observer import ObservedTable
from ..engine.table import ConnectionTable
from .options import AnalysisOptions


@dataclass
class Analysis:
    stats: CaptureStats
    connections: list
    options: AnalysisOptions
    folds: Folds = field(default_factory=Folds)
    paths: list | None = None    # the files read, where they differ from stats.files (spooled stdin)
    jobs: int = 1                # processes the analysis was asked to use (--jobs)
    # ``connections`` is what filters selected (cli), not every connection:
    # the folded ones (``folds``), which no filter can select, are then left
    # out of the capture counts (views.capture).
    selected: bool = False


def analyze(paths, options: AnalysisOptions | None = None, *, observer=None, owned=None, progress=None,
            read_ahead: bool = True) -> Analysis:
    """Read every capture in ``paths`` and return the finished analysis.

    ``observer``: an ``engine.observer.Observer`` told what happens to the
    connections it watches (the ladder view); ``owned``: track only the
    connections of these port buckets, as one partition of a parallel run
    (``engine.loop.run``); ``read_ahead``: see ``capture.read_windows``.
    """
    options = options or AnalysisOptions()
    stats = CaptureStats(files=["<stdin>" if p == "-" else p for p in paths])
    table = ConnectionTable(options) if observer is None else ObservedTable(options, observer)
    try:
        run(read_windows(paths, stats.damages, progress.opened if progress else None, read_ahead), table, stats,
            owned, progress=progress)
    finally:
        if progress is not None:
            progress.finish()
    conns = table.finalize(stats.end if stats.end is not None else 0.0)
    stats.evicted = table.evicted
    stats.connections_omitted = table.folds.total
    return Analysis(stats=stats, connections=conns, folds=table.folds, options=options)


__all__ = ["Analysis", "AnalysisOptions", "CaptureStats", "analyze"]
