"""Documents: what the analysis and the anomalies say, as data a renderer writes.

* ``report``: the report of ``shared/spec/report-contract.md`` (the JSON
  report, and what the table, markdown, CSV and HTML write);
* ``ladder``: one connection as the textbook sequence diagram's events,
  recorded through the engine's observer hook;
* ``states``: what ``ss -tan`` would have shown at any moment of the
  capture, and each host's sockets per state over time;
* ``timewait``: TIME_WAIT and CLOSE_WAIT per host, for "why are we out of
  ports?".
"""
