"""Anomaly detectors: one module per anomaly type, run over finished connections.

``DETECTORS`` is the registry: the CLI builds one option per threshold from it,
the README documents each from its ``EXPLANATION``, and ``run`` runs them all.
"""
from __future__ import annotations

from . import (
    accept_queue_overflow, connection_refused, half_open, lingering_close_wait, no_tcp_traffic, port_reuse_in_time_wait, reset_storm,
    port_scan, rst_on_stale_syn, syn_to_time_wait, syn_unanswered, time_wait_storm,
)
from .base import SEVERITIES, Anomaly, Option, shared_results
from .config import DetectorConfig

DETECTORS = (
    half_open, accept_queue_overflow, rst_on_stale_syn, lingering_close_wait, time_wait_storm,
    port_scan, connection_refused, syn_unanswered, port_reuse_in_time_wait, syn_to_time_wait, reset_storm,
    no_tcp_traffic,
)
TYPES = tuple(d.TYPE for d in DETECTORS)


def all_options() -> list[Option]:
    return [opt for d in DETECTORS for opt in d.OPTIONS]


def config(values=None) -> DetectorConfig:
    """The thresholds: ``values`` (a DetectorConfig, or a mapping of some
    of them) validated, the rest at their defaults."""
    if isinstance(values, DetectorConfig):
        return values
    return DetectorConfig(all_options(), values)


def run(analysis, cfg=None) -> list[Anomaly]:
    """Every anomaly in the analysis, ordered by time; ``cfg``: see ``config``."""
    config_ = config(cfg)
    found: list[Anomaly] = []
    with shared_results():
        for detector in DETECTORS:
            found.extend(detector.detect(analysis, config_))
    found.sort(key=report_order)
    return found


def report_order(anomaly: Anomaly):
    """Where ``anomaly`` stands in a report's list: by time (none: last),
    then by type."""
    return (anomaly.time if anomaly.time is not None else float("inf"), anomaly.type)


__all__ = ["Anomaly", "DETECTORS", "DetectorConfig", "Option", "SEVERITIES", "TYPES", "all_options", "config", "report_order", "run"]
