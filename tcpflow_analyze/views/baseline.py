"""``--baseline OLD.json``: which of a report's findings a previous report
of this tool already had.

CI that tolerates known problems keeps yesterday's JSON report and fails
only on findings it did not have.  Findings are matched by
``detectors.base.group_key`` (type, and the service, host or source they are
about), not by message or count: a service refusing 3 connections today and
2 yesterday is the same known problem.
"""
from __future__ import annotations

import json

from ..detectors.base import group_key
from .report import SCHEMA_VERSION

TOOL_NAME = "tcpflow-analyze"


def load(path: str) -> list[dict]:
    """The anomalies of the report at ``path``; ValueError (one line) when it
    cannot be read or is not a JSON report of this tool."""
    try:
        with open(path, "rb") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, RecursionError):
        raise ValueError(f"{path} is not JSON: give a report of --format json") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tool"), dict) \
            or doc["tool"].get("name") != TOOL_NAME or "schema_version" not in doc:
        raise ValueError(f"{path} is not a JSON report of {TOOL_NAME}")
    if doc["schema_version"] != SCHEMA_VERSION:
        raise ValueError(f"{path} is a report of schema_version {doc['schema_version']!r}; "
                         f"this version reads {SCHEMA_VERSION}")
    anomalies = doc.get("anomalies")
    if not isinstance(anomalies, list) or not all(
            isinstance(a, dict) and isinstance(a.get("type"), str) and isinstance(a.get("details", {}), dict)
            for a in anomalies):
        raise ValueError(f"{path}: its anomalies are not a list of findings")
    return anomalies


def mark(report: dict, baseline: list[dict], path: str) -> dict:
    """Mark each of ``report``'s anomalies ``new`` (True when the baseline had
    nothing of its type about the same place) and add ``summary.baseline``:
    the file and how many findings are new, known, and gone (the baseline's,
    matched by nothing now)."""
    known_keys = {group_key(a) for a in baseline}
    for a in report["anomalies"]:
        a["new"] = group_key(a) not in known_keys
    now = {group_key(a) for a in report["anomalies"]}
    new = sum(a["new"] for a in report["anomalies"])
    info = {"file": path, "new": new, "known": len(report["anomalies"]) - new,
            "gone": sum(group_key(a) not in now for a in baseline)}
    report["summary"]["baseline"] = info
    return info
