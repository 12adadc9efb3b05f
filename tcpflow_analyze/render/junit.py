"""JUnit XML (``--format junit``): the findings as test results, the form
Jenkins, GitLab and GitHub's test reporters show natively.

One test case per anomaly type, every registered type, so a type that stops
firing shows as a test that now passes.  A case fails when the gate
(``--fail-on``, or ``warning`` without it) matches a finding of its type,
new against ``--baseline`` when one is given; its ``<failure>`` lists them.
Findings the gate does not fail (info, or known from the baseline) are
listed in the case's ``<system-out>``.  Element order follows Ant's
junit.xsd, which Jenkins validates against: properties, test cases,
system-out.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from ..detectors import SEVERITIES, TYPES
from ..model.text import printable

CLASSNAME = "tcpflow-analyze"
# Findings listed in one case's failure or output; the JSON report has them all.
MAX_LISTED = 100
# XML 1.0 has no way to write these at all, escaped or not (its Char
# production); printable() leaves them, as a terminal shows them harmlessly.
_NOT_XML = re.compile("[\ufffe\uffff]")


def render(report: dict, failing: list[dict], gate: str) -> str:
    """The JUnit document of ``report``; ``failing``: its anomalies that fail
    (the gate's new matches); ``gate``: the --fail-on list as given, for the
    record."""
    failing_ids = {id(a) for a in failing}
    by_type = defaultdict(list)
    for a in report["anomalies"]:
        by_type[a["type"]].append(a)
    types = list(TYPES) + sorted(set(by_type) - set(TYPES))
    root = ET.Element("testsuites", name=CLASSNAME)
    suite = ET.SubElement(root, "testsuite", name=_xml(f"{CLASSNAME}: {', '.join(report['capture']['files'])}"))
    props = ET.SubElement(suite, "properties")
    for name, value in _properties(report, gate):
        ET.SubElement(props, "property", name=name, value=_xml(str(value)))
    failures = 0
    for kind in types:
        case = ET.SubElement(suite, "testcase", classname=CLASSNAME, name=_xml(kind))
        fails = [a for a in by_type[kind] if id(a) in failing_ids]
        passes = [a for a in by_type[kind] if id(a) not in failing_ids]
        if fails:
            failures += 1
            worst = max((a["severity"] for a in fails), key=_rank)
            new = "new " if "new" in fails[0] else ""
            message = fails[0]["message"] if len(fails) == 1 else \
                f"{len(fails)} {new}{kind} findings; first: {fails[0]['message']}"
            failure = ET.SubElement(case, "failure", message=_xml(message), type=worst)
            failure.text = _findings(fails)
        if passes:
            ET.SubElement(case, "system-out").text = _findings(passes)
    ET.SubElement(suite, "system-out").text = _summary(report, gate)
    for element in (root, suite):
        element.set("tests", str(len(types)))
        element.set("failures", str(failures))
        element.set("errors", "0")
    suite.set("skipped", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def _xml(text: str) -> str:
    """Text a capture or a file name controls, as XML can carry it: control
    characters escaped as every text output escapes them (ElementTree escapes
    the markup characters, not these; XML 1.0 forbids most C0 controls)."""
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", printable(text))


def _findings(anomalies: list[dict]) -> str:
    lines = []
    for a in anomalies[:MAX_LISTED]:
        known = " (known from the baseline)" if a.get("new") is False else ""
        ids = a.get("connections") or []
        conns = f" [connections {', '.join(map(str, ids[:10]))}{' ...' if len(ids) > 10 else ''}]" if ids else ""
        lines.append(_xml(f"{a['severity']}: {a['message']}{known}{conns}"))
    if len(anomalies) > MAX_LISTED:
        lines.append(f"... and {len(anomalies) - MAX_LISTED} more: see the JSON report")
    return "\n".join(lines)


def _properties(report: dict, gate: str):
    cap, summary = report["capture"], report["summary"]
    yield "tool", f"{report['tool']['name']} {report['tool']['version']}"
    yield "files", ", ".join(cap["files"])
    yield "packets", cap["packets"]
    yield "tcp_packets", cap["tcp_packets"]
    yield "connections", summary["connections"]
    yield "start", cap["start"] if cap["start"] is not None else ""
    yield "duration", cap["duration"]
    yield "gate", gate
    if "baseline" in summary:
        yield "baseline", summary["baseline"]["file"]


def _summary(report: dict, gate: str) -> str:
    cap, summary = report["capture"], report["summary"]
    lines = [
        f"capture: {', '.join(cap['files'])}",
        f"packets {cap['packets']} (TCP {cap['tcp_packets']}), connections {summary['connections']}, "
        f"duration {cap['duration']} s" + (", truncated" if cap["truncated"] else ""),
        f"failing on: {gate}",
    ]
    base = summary.get("baseline")
    if base:
        lines.append(f"baseline {base['file']}: {base['new']} new, {base['known']} known, {base['gone']} gone")
    counts = summary.get("anomalies") or {}
    lines.append("findings: " + (", ".join(f"{t} x{n}" for t, n in counts.items()) or "none"))
    return "\n".join(_xml(line) for line in lines)
