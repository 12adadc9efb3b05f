"""Anomaly detectors: one module per anomaly type, run over finished connections.

``DETECTORS`` is the registry: the CLI builds one option per threshold from it,
the README documents each from its ``EXPLANATION``, and ``run`` runs them all.
"""
from __future__ import annotations

from . import (
    connection_refused, half_open, lingering_close_wait, port_reuse_in_time_wait, reset_storm,
    rst_on_stale_syn, syn_to_time_wait, syn_unanswered, time_wait_storm,
)
from .base import SEVERITIES, Anomaly, Option

DETECTORS = (
    half_open, rst_on_stale_syn, lingering_close_wait, time_wait_storm,
    connection_refused, syn_unanswered, port_reuse_in_time_wait, syn_to_time_wait, reset_storm,
)
TYPES = tuple(d.TYPE for d in DETECTORS)


def all_options() -> list[Option]:
    return [opt for d in DETECTORS for opt in d.OPTIONS]


def default_config() -> dict:
    return {opt.key: opt.default for opt in all_options()}


def run(analysis, cfg: dict | None = None) -> list[Anomaly]:
    """Every anomaly in the analysis, ordered by time."""
    config = default_config()
    if cfg:
        config.update(cfg)
    found: list[Anomaly] = []
    for detector in DETECTORS:
        found.extend(detector.detect(analysis, config))
    found.sort(key=lambda a: (a.time if a.time is not None else float("inf"), a.type))
    return found


__all__ = ["Anomaly", "DETECTORS", "Option", "SEVERITIES", "TYPES", "all_options", "default_config", "run"]
