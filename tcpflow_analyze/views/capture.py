"""What the capture showed of its connections, and what it missed.

Counted over the connections a document covers, for the report's
``capture`` section (``views.report``) and for the notices of the views
that build no report (``views.findings.analysis_notices``): one count, so
the views and the report cannot disagree.
"""
from __future__ import annotations


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


def capture_counts(conns) -> dict:
    """The ``capture`` fields counted over ``conns``: one_sided,
    states_inferred, missed_bytes, duplicates, capture_loss."""
    one_sided = inferred = missed = duplicates = acks = gaps = holes = 0
    for conn in conns:
        c, s = conn.client, conn.server
        # Capture loss counts only sides the capture shows: a one-way
        # capture is not a lossy one (capture.one_sided says so).  An
        # endpoint's first acknowledgment acknowledges the SYN (or is the
        # one a mid-stream capture starts from): not an ACK event in Zeek's
        # sense, which counts from the first data on (its trim_seq).  Nor
        # does Zeek count connections whose handshake it missed
        # (report_gaps_for_partial is F): a capture joined mid-stream, or a
        # connection --max-connections evicted and met again, acknowledges
        # bytes from before its start.
        if c.packets and s.packets and conn.hs:
            # max(acks - 1, 0) of each side, without two calls per connection.
            ca, sa = c.acks, s.acks
            acks += (ca - 1 if ca else 0) + (sa - 1 if sa else 0)
            gaps += c.gap_acks + s.gap_acks
            holes += c.seq_holes + s.seq_holes
        if conn.one_sided:
            one_sided += 1
        if conn.evidence:
            inferred += 1
        missed += c.missed + s.missed
        duplicates += c.duplicates + c.ctl_duplicates + s.duplicates + s.ctl_duplicates
    return {"one_sided": one_sided, "states_inferred": inferred, "missed_bytes": missed,
            "duplicates": duplicates, "capture_loss": capture_loss(acks, gaps, holes)}


__all__ = ["capture_counts", "capture_loss"]
