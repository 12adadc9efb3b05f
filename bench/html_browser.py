"""Open an HTML report in headless Chromium and say whether a person could use it.

    python3 bench/html_browser.py REPORT.html [--screenshot OUT.png] [--width 1400 --height 2000]

Prints one JSON object: the file's size, the time to the load event, the
renderer's memory (JS heap, and the proportional set size of all the
browser's processes), the DOM node count, and how long a scroll step takes
(median and worst, in the connections table and down the page).  Speaks the
DevTools protocol over ``--remote-debugging-pipe`` (NUL-separated JSON on
fds 3 and 4), so it needs nothing beyond the standard library and
/usr/bin/chromium.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


class Browser:
    """One headless Chromium, one page, spoken to over the DevTools pipe."""

    def __init__(self, width: int, height: int):
        self.profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4.
        child_fds = {3: to_browser_r, 4: from_browser_w}

        def wire():
            # Via fds clear of 3 and 4, so that placing one cannot close the other.
            high = {target: os.dup2(fd, 100 + target) for target, fd in child_fds.items()}
            for target, fd in high.items():
                os.dup2(fd, target)
                os.close(fd)
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--user-data-dir={self.profile.name}", f"--window-size={width},{height}",
             "--remote-debugging-pipe", "about:blank"],
            pass_fds=(3, 4, to_browser_r, from_browser_w), preexec_fn=wire,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL if not os.environ.get("H4_DEBUG") else None)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buf = b""
        self.next_id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, page=True)

    def _read(self) -> dict:
        while b"\0" not in self.buf:
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, params: dict | None = None, page: bool = False) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if page:
            msg["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, ev in enumerate(self.events):
                if ev.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read())
        raise TimeoutError(method)

    def evaluate(self, expression: str):
        r = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                           "returnByValue": True}, page=True)
        if "exceptionDetails" in r:
            raise RuntimeError(r["exceptionDetails"].get("text", "script error"))
        return r["result"].get("value")

    def pss_bytes(self) -> int:
        """Proportional set size of the browser and every process it started
        (shared pages counted once, split between their sharers)."""
        total, todo = 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    total += next(int(line.split()[1]) * 1024 for line in f if line.startswith("Pss:"))
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            todo += [int(c) for c in children]
        return total

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_browser)
        os.close(self.from_browser)
        self.profile.cleanup()


# Scroll the connections' scroll box to 40 places spread over its whole
# height, then the page from top to bottom a viewport at a time, waiting for
# two frames each step: the slowest step is what a person feels as the page
# "hanging".
SCROLL_JS = """
(async function () {
  function frame() { return new Promise(function (r) { requestAnimationFrame(function () { r(); }); }); }
  async function step(move) {
    var t = performance.now(); move(); await frame(); await frame(); return performance.now() - t;
  }
  function stats(times) {
    times.sort(function (a, b) { return a - b; });
    return {steps: times.length, median_ms: Math.round(times[times.length >> 1] || 0),
            worst_ms: Math.round(times[times.length - 1] || 0)};
  }
  var out = {}, box = document.querySelector("#connections .scroll"), times = [];
  if (box) {
    box.scrollIntoView();
    await frame();
    for (var i = 0; i <= 40; i++) {
      var y = Math.round((box.scrollHeight - box.clientHeight) * i / 40);
      times.push(await step(function () { box.scrollTop = y; }));
    }
    out.table = stats(times);
    out.table.rows_in_dom = box.querySelectorAll("tbody tr").length;
  }
  window.scrollTo(0, 0); await frame(); times = [];
  for (var y = 0; y < document.documentElement.scrollHeight; y += innerHeight) {
    times.push(await step(function () { window.scrollTo(0, y); }));
  }
  out.page = stats(times);
  out.page_height_px = document.documentElement.scrollHeight;
  window.scrollTo(0, 0);
  return out;
})()
"""


def probe(page: Path, screenshot: Path | None, width: int, height: int, at: str | None = None) -> dict:
    browser = Browser(width, height)
    try:
        browser.call("Page.enable", page=True)
        browser.call("Performance.enable", page=True)
        t0 = time.monotonic()
        browser.call("Page.navigate", {"url": page.resolve().as_uri()}, page=True)
        browser.wait_event("Page.loadEventFired", timeout=600)
        load_s = time.monotonic() - t0
        timing = browser.evaluate("JSON.stringify({dom: performance.timing.domContentLoadedEventEnd"
                                  " - performance.timing.navigationStart, load: performance.timing.loadEventEnd"
                                  " - performance.timing.navigationStart})")
        first_frame = browser.evaluate("new Promise(function (r) { var t = performance.now(); "
                                       "requestAnimationFrame(function () { requestAnimationFrame(function () "
                                       "{ r(Math.round(performance.now() - t)); }); }); })")
        metrics = {m["name"]: m["value"] for m in browser.call("Performance.getMetrics", page=True)["metrics"]}
        out = {
            "html_bytes": page.stat().st_size,
            "load_event_s": round(load_s, 2),
            "timing_ms": json.loads(timing),
            "first_frames_after_load_ms": first_frame,
            "dom_nodes": int(metrics.get("Nodes", 0)),
            "js_heap_used_mb": round(metrics.get("JSHeapUsedSize", 0) / 1e6, 1),
            "layout_s": round(metrics.get("LayoutDuration", 0), 2),
            "script_s": round(metrics.get("ScriptDuration", 0), 2),
            "browser_pss_mb": round(browser.pss_bytes() / 1e6, 1),
        }
        if screenshot is not None:
            if at:
                browser.evaluate(f"document.getElementById({json.dumps(at)}).scrollIntoView(); "
                                 "new Promise(function (r) { requestAnimationFrame(function () { r(); }); })")
            shot = browser.call("Page.captureScreenshot", {"format": "png"}, page=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        out["scroll"] = browser.evaluate(SCROLL_JS)
        out["browser_pss_after_scroll_mb"] = round(browser.pss_bytes() / 1e6, 1)
        return out
    finally:
        browser.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("page", type=Path)
    ap.add_argument("--screenshot", type=Path)
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=2000)
    ap.add_argument("--at", metavar="ID", help="Scroll the element with this id to the top before the screenshot.")
    args = ap.parse_args(argv)
    print(json.dumps(probe(args.page, args.screenshot, args.width, args.height, args.at), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
