"""One analysis over several processes, or several machines through Dask.

Every worker reads the whole capture and keeps only the connections of its
partition: a connection's hash bucket is its two ports XOR-ed modulo
``BUCKETS``, which is the same for both directions of a connection, and each
partition owns a range of buckets, so each connection is tracked, start to
end, by exactly one worker.  The
workers' finished connections are merged and ordered as a single process
orders them (first packet, then global packet number), then the detectors run
once over the whole.  ``analyze_partition`` is the unit of work for both
engines: a ``concurrent.futures`` process pool here, ``dask.distributed``
across a cluster.

Reading is repeated by every worker -- it is cheap next to tracking (a
fifth of the work) and needs no coordination; what is divided is the
per-connection work.  The report equals the single-process one, unless the
memory caps (``--max-connections``, ``--max-report-connections``) bind: each
partition gets its share of them.
"""
from __future__ import annotations

import mmap
import multiprocessing
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from .. import _core
from ..capture import Damage
from ..children import forked_child, signals_held
from ..engine import wire
from ..engine.folding import Folds
from ..engine.loop import CaptureStats
from ..engine.table import number_connections
from . import Analysis, analyze
from .options import AnalysisOptions


@dataclass(frozen=True)
class Shipped:
    """A worker's connections packed by ``wire`` and written to a file that
    its parent holds open too (``ship_fd``): the result it sends through the
    pool's pipe is this length, not tens of megabytes that the pipe would
    copy three times and the parent read in 64 KiB turns between its own
    work (bench/README: "--jobs, twelfth round")."""
    length: int


@dataclass
class PartResult:
    stats: CaptureStats
    # bytes (bytearray): packed by ``wire`` to cross a process boundary; Shipped: left in a file
    connections: list | bytes | bytearray | Shipped
    folds: Folds
    evicted: int

    def unpacked(self) -> list:
        if isinstance(self.connections, (bytes, bytearray)):
            return wire.decode(self.connections)
        return self.connections

    def received(self, fd: int) -> None:
        """The connections a worker shipped to ``fd`` (see Shipped), unpacked."""
        if isinstance(self.connections, Shipped):
            with mmap.mmap(fd, self.connections.length, access=mmap.ACCESS_READ) as data:
                self.connections = wire.decode(data)


# Hash buckets (of sport ^ dport) that partitions divide between them: 60
# splits evenly into 2, 3, 4, 5 or 6, and unevenly as ``shares`` asks.
BUCKETS = 60
# Shipping a worker's connections back (packing, the file, unpacking) costs
# about 0.4 of tracking them in the pure build (0.65 s against 1.6 s for
# 50,000 connections), and about as much as tracking them on the compiled
# core, which tracks five times as fast (bench/README: "--jobs on the
# compiled core") -- where every connection is reported.
SHIP_COST = 0.4
SHIP_COST_COMPILED = 1.0
# But a report keeps at most --max-report-connections (the rest are folded
# into counts): past a capture of about that many connections -- 1,800
# bytes of capture file a connection in the benchmark's traffic -- what a
# worker ships stops growing while what it tracks goes on growing with the
# capture, so shipping costs that much less in proportion.
CAPTURE_BYTES_PER_CONNECTION = 1800


def ship_cost(capture_bytes: int, options: AnalysisOptions) -> float:
    """What shipping a connection costs, as a share of tracking it, for a
    capture of ``capture_bytes`` (0: not known)."""
    ship = SHIP_COST_COMPILED if "engine.wire" in _core.compiled_modules() else SHIP_COST
    kept = options.max_report_connections * CAPTURE_BYTES_PER_CONNECTION
    return ship * kept / capture_bytes if capture_bytes > kept else ship


def shares(nparts: int, parent: bool = False, ship: float = SHIP_COST) -> list[float]:
    """Each partition's share of the connections.  Equal, unless partition 0
    is tracked by the process that merges (``parent``): it ships nothing, so
    it takes more (by ``ship``: see ``ship_cost``), and the workers' results
    arrive as it finishes."""
    if not parent or nparts == 1:
        return [1 / nparts] * nparts
    mine = (1 + ship) / (1 + ship + nparts - 1)
    return [mine] + [(1 - mine) / (nparts - 1)] * (nparts - 1)


def owned_buckets(part: int, weights: list[float]) -> bytes:
    """Partition ``part``'s buckets: a run of ``BUCKETS`` sized by its weight."""
    total = sum(weights)
    lo = round(BUCKETS * sum(weights[:part]) / total)
    hi = round(BUCKETS * sum(weights[:part + 1]) / total)
    return bytes(lo <= b < hi for b in range(BUCKETS))


def analyze_partition(paths, part: int, nparts: int, options: AnalysisOptions, packed: bool = True,
                      progress=None, weights: list[float] | None = None, read_ahead: bool = True,
                      ship_fd: int | None = None) -> PartResult:
    """Track the connections of one partition of the captures in ``paths``
    (of ``nparts``, sized by ``weights``: equal by default); ``packed``: for
    another process (see ``wire``), written to ``ship_fd`` if given (see
    Shipped); ``read_ahead``: see ``read_windows``."""
    weights = weights or shares(nparts)
    owned = owned_buckets(part, weights)
    analysis = analyze(paths, options.share(sum(owned) / BUCKETS), owned=owned, progress=progress,
                       read_ahead=read_ahead)
    conns = analysis.connections
    if packed:
        conns = wire.encode(conns)
        if ship_fd is not None:
            conns = _ship(conns, ship_fd)
    return PartResult(analysis.stats, conns, analysis.folds, analysis.stats.evicted)


def _ship(data, fd: int) -> Shipped:
    view = memoryview(data)
    done = 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], done)
    return Shipped(len(view))


def _shipping_file() -> int:
    """A file for a worker to ship its connections in, with no name (no
    file is left behind, however the run ends): in memory where the system
    offers that (memfd), else in the temporary directory."""
    try:
        return os.memfd_create("tcpflow-analyze-part")
    except (AttributeError, OSError):
        fd, path = tempfile.mkstemp(prefix="tcpflow-analyze-part-")
        os.unlink(path)
        return fd


def merge(results: list[PartResult], options: AnalysisOptions) -> Analysis:
    """The partitions' results as one analysis, as a single process makes it."""
    first = results[0].stats
    stats = CaptureStats(files=list(first.files), packets=first.packets, skipped=dict(first.skipped),
                         damages=merged_damages(results), start=first.start, end=first.end,
                         linktypes=set(first.linktypes))
    stats.tcp_packets = sum(r.stats.tcp_packets for r in results)
    for r in results:
        # Each partition counted the segments of its own connections.
        for name, n in r.stats.encapsulations.items():
            stats.encapsulations[name] = stats.encapsulations.get(name, 0) + n
    stats.evicted = sum(r.evicted for r in results)
    conns = [c for r in results for c in r.unpacked()]
    number_connections(conns)
    folds = Folds()
    for r in results:
        folds.merge(r.folds)
    stats.connections_omitted = folds.total
    return Analysis(stats=stats, connections=conns, folds=folds, options=options)


def merged_damages(results: list[PartResult]) -> list:
    """Where reading stopped, as a single process says it.

    Every partition reads the whole capture, so all meet the same damage --
    unless one met damage the others did not: a read error (EIO is not
    repeatable), or a file that changed while it was read.  That
    partition's connections end there, so its damage is reported too,
    marked as its own."""
    first = results[0].stats.damages
    out = list(first)
    for i, r in enumerate(results[1:], 1):
        for d in r.stats.damages:
            if d not in first:
                out.append(Damage(d.file, d.offset, d.packet,
                                  f"{d.reason} (met by worker {i + 1} of {len(results)} only: "
                                  "its connections end there)"))
    return out


def analyze_parallel(paths, jobs: int, options: AnalysisOptions, progress=None) -> Analysis:
    """``jobs`` processes on this machine, one partition each: this process
    tracks partition 0 itself while ``jobs - 1`` forked workers track the
    others, so only their share of the connections is shipped back.  As this
    process reads the whole capture too, its reading is the progress shown."""
    # fork: the workers inherit the imported package and start at once.
    ctx = multiprocessing.get_context("fork")
    try:
        size = sum(os.path.getsize(p) for p in paths)
    except OSError:
        size = 0   # the reader reports it
    weights = shares(jobs, parent=True, ship=ship_cost(size, options))
    # A thread reading ahead needs a core of its own: with a process on every
    # core it only takes turns with them.
    read_ahead = jobs < usable_cores()
    # The workers are forked in the first submit, by this (the main) thread:
    # their death signal (children.die_with_parent) follows the thread that
    # forked them.
    # Made before the workers are forked, so that each inherits them.
    fds = [_shipping_file() for _ in range(1, jobs)]
    try:
        with ProcessPoolExecutor(max_workers=jobs - 1, mp_context=ctx, initializer=forked_child,
                                 initargs=(os.getpid(),)) as pool:
            try:
                with signals_held():
                    futures = [pool.submit(analyze_partition, list(paths), i, jobs, options, weights=weights,
                                           read_ahead=read_ahead, ship_fd=fds[i - 1])
                               for i in range(1, jobs)]
                mine = analyze_partition(paths, 0, jobs, options, packed=False, progress=progress,
                                         weights=weights, read_ahead=read_ahead)
                results = [mine]
                for f, fd in zip(futures, fds):
                    result = f.result()
                    result.received(fd)
                    results.append(result)
            except BaseException:
                _kill_workers(pool)
                raise
    finally:
        for fd in fds:
            os.close(fd)
    return merge(results, options)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """End the run's workers now (this process was interrupted, or failed):
    leaving the pool waits for every running task to finish, the rest of a
    worker's partition.  A killed worker breaks the pool, which then ends at
    once.  The workers are listed only in the pool's ``_processes`` (its
    ``kill_workers`` is Python 3.14's)."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            proc.kill()
        except (OSError, ValueError):
            pass  # already gone, or already closed
    # A worker killed while it sent its result leaves part of a message in
    # the result pipe, and the pool's manager thread waits for the rest for
    # as long as any write end of that pipe is open -- this process holds
    # one (the pool's own queue).  Closed, the read ends in EOF once the
    # killed workers are gone, and the pool counts itself broken; otherwise
    # the shutdown below would wait forever.
    writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    if writer is not None:
        try:
            writer.close()
        except OSError:
            pass
    pool.shutdown(wait=True, cancel_futures=True)


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def analyze_dask(paths, scheduler: str, partitions: int | None, options: AnalysisOptions,
                 timeout: float = 10.0) -> Analysis:
    """The same partitions as tasks on a Dask cluster.

    ``scheduler`` is a scheduler address (``tcp://host:8786``), or ``local`` to
    start a LocalCluster of ``partitions`` worker processes here.  The
    capture paths must be readable by every worker (a shared filesystem).
    ``timeout``: seconds to reach the scheduler (``scheduler.connect``); a
    bad address, or one where no scheduler answers in time, raises
    ``scheduler.SchedulerError``.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise RuntimeError("the dask engine needs dask.distributed: pip install 'tcpflow-analyze[dask]'") from None
    from . import scheduler as dask_scheduler
    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=partitions or 2, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        client = dask_scheduler.connect(dask_scheduler.check_address(scheduler), timeout)
    try:
        n = partitions or max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()))
        futures = client.map(analyze_partition, [list(paths)] * n, range(n), [n] * n, [options] * n, pure=False)
        results = client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return merge(results, options)
