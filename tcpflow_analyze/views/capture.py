"""What the capture showed of its connections, and what it missed.

Counted over the connections a document covers, for the report's
``capture`` section (``views.report``) and for the notices of the views
that build no report (``views.findings.analysis_notices``): one count, so
the views and the report cannot disagree.
"""
from __future__ import annotations

from ..engine.folding import capture_sums


def capture_loss(acks: int, gaps: int, holes: int) -> dict:
    """Zeek's capture-loss estimate (policy/misc/capture-loss.zeek): of the
    ACK events seen (an acknowledgment advancing), the share that
    acknowledged bytes the capture never showed (gaps), in percent.  A
    sender's bytes acknowledged by its peer were sent, so the capture, not
    the network, lost them.  Unlike Zeek, an acknowledged FIN the capture
    never showed counts as a gap too: it is how a capture that lost the
    closes looks.  ``holes``: new segments that started past what their
    sender was seen to send (tshark's "previous segment not captured"),
    whether or not a retransmission later filled them -- loss on the way
    to the capture point shows there too."""
    return {"acks": acks, "gaps": gaps, "percent": round(100.0 * gaps / acks, 3) if acks else 0.0,
            "holes": holes}


def capture_counts(conns, folded: dict | None = None) -> dict:
    """The ``capture`` fields counted over ``conns``: one_sided,
    states_inferred, missed_bytes, duplicates, capture_loss; plus
    ``folded``, the same counts of the connections the report caps folded
    away (``engine.folding.Folds.seen``), where the document covers the
    whole capture -- so that the counts and the estimate are those of every
    connection the capture showed, whatever --max-report-connections and
    --max-connections (whose evicted connections are folded like any other
    once the report is full) let the report list."""
    n = capture_sums(conns)
    if folded:
        for name, m in folded.items():
            n[name] += m
    return {"one_sided": n["one_sided"], "states_inferred": n["states_inferred"], "missed_bytes": n["missed_bytes"],
            "duplicates": n["duplicates"], "capture_loss": capture_loss(n["acks"], n["gaps"], n["holes"])}


def folded_counts(analysis, selected: bool = False) -> dict | None:
    """The folded connections' capture counts (``Folds.seen``) for a
    document of every connection; None for a selection (cli: filters, which
    ``selected`` or ``analysis.selected`` says), of which they cannot be
    told apart."""
    folds = getattr(analysis, "folds", None)
    if folds is None or selected or getattr(analysis, "selected", False):
        return None
    return folds.seen


__all__ = ["capture_counts", "capture_loss", "folded_counts"]
