"""Headless Chromium over the DevTools protocol (``--remote-debugging-pipe``), networking off.

No Python dependency: the browser reads commands from fd 3 and writes replies to fd 4,
each message JSON ending in a NUL byte. Used by the browser test of the report, and
by hand: ``python -m tests.report_browser report.html shot.png``.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INSTALL_HINT = (
    "headless Chromium is needed for the report's browser test: install Debian's package "
    "with `apt-get install -y chromium` (nox -s tests does this where it can), or point "
    "GRAPHBENCH_CHROMIUM at a Chromium binary"
)

# Flags that keep Chromium off the network and out of the user's profile.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers often have a small /dev/shm
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)

# Every <figure>'s <svg>: its rendered size. Plus any figure without an svg.
MEASURE = """JSON.stringify(Array.from(document.querySelectorAll('figure')).map(f => {
  const s = f.querySelector('svg'); const r = (s || f).getBoundingClientRect();
  return {id: f.id, svg: !!s, width: r.width, height: r.height};
}))"""


# Debian's real binary: its /usr/bin/chromium wrapper adds default flags (remote
# extensions, API keys) this test has no use for.
DEBIAN_BINARY = Path("/usr/lib/chromium/chromium")


def find_chromium() -> str | None:
    override = os.environ.get("GRAPHBENCH_CHROMIUM")
    if override:
        return override
    if DEBIAN_BINARY.is_file() and os.access(DEBIAN_BINARY, os.X_OK):
        return str(DEBIAN_BINARY)
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageReport:
    figures: list[dict[str, Any]]
    console_errors: list[str]
    requests: list[str]  # every URL the page asked for
    screenshot_png: bytes
    width: int = 0
    height: int = 0
    events: list[dict] = field(default_factory=list)


class Chromium:
    """One headless browser; ``call`` sends a command and waits for its reply."""

    def __init__(self, binary: str, timeout_s: float = 30.0):
        self.timeout_s = timeout_s
        self.profile = tempfile.mkdtemp(prefix="graphbench-chromium-")
        # Two pipes take the four lowest free fds, so fds 3 and 4 are open here (pass_fds
        # needs that) and Popen's own error pipe cannot be either of them.
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # The browser's own log goes to a file: a pipe nobody drains could fill and stall it.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
            pass_fds=(3, 4),
            preexec_fn=_pipe_fds(to_child_r, from_child_w),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            os.write(self._to_child, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise self._exited() from None
        return self._next_id

    def _exited(self) -> RuntimeError:
        """The browser is gone: say so, with the end of its log."""
        self.proc.wait(timeout=5)
        self.log.seek(0)
        err = self.log.read().decode(errors="replace")
        return RuntimeError(f"Chromium exited ({self.proc.returncode}): {err[-2000:]}")

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        wanted = self.send(method, params, session)
        while True:
            message = self._read()
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str) -> dict:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            message = self._read()
            if message.get("method") == method:
                return message
            self.events.append(message)

    def _read(self) -> dict:
        deadline = time.monotonic() + self.timeout_s
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_child], [], [], max(left, 0))
            if not ready:
                raise TimeoutError(f"Chromium sent nothing for {self.timeout_s:.0f} s")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise self._exited()
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self._to_child)
            os.close(self._from_child)
            self.log.close()
            shutil.rmtree(self.profile, ignore_errors=True)


def _pipe_fds(read_end: int, write_end: int):
    """In the child, before exec: the browser's ends of the pipes become fd 3 and fd 4."""

    def setup() -> None:
        r, w = os.dup(read_end), os.dup(write_end)
        os.dup2(r, 3)
        os.dup2(w, 4)

    return setup


def load_page(html_file: Path, binary: str, width: int = 1280) -> PageReport:
    """Open a file with networking off; measure its figures, collect errors, screenshot it."""
    browser = Chromium(binary)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable", session=session)
        browser.call(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
            session=session,
        )
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        browser.call("Page.navigate", {"url": html_file.resolve().as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired")
        measured = browser.call(
            "Runtime.evaluate", {"expression": MEASURE, "returnByValue": True}, session=session
        )
        figures = json.loads(measured["result"]["value"])
        size = browser.call("Page.getLayoutMetrics", session=session)["cssContentSize"]
        w, h = int(size["width"]), int(size["height"])
        # The full page: a viewport as tall as the page (more faithful than capturing
        # beyond a small viewport, which can drop tiles of a long page).
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        shot = browser.call("Page.captureScreenshot", {"format": "png"}, session=session)
        events = list(browser.events)
    finally:
        browser.close()
    return PageReport(
        figures=figures,
        console_errors=_errors(events),
        requests=[
            e["params"]["request"]["url"]
            for e in events
            if e.get("method") == "Network.requestWillBeSent"
        ],
        screenshot_png=base64.b64decode(shot["data"]),
        width=w,
        height=h,
        events=events,
    )


def _errors(events: list[dict]) -> list[str]:
    out = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            out.append(json.dumps(params.get("exceptionDetails", {}))[:500])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            out.append(f"{params['entry'].get('source')}: {params['entry'].get('text')}")
    return out


if __name__ == "__main__":
    binary = find_chromium()
    if binary is None:
        sys.exit(INSTALL_HINT)
    page = load_page(Path(sys.argv[1]), binary)
    Path(sys.argv[2]).write_bytes(page.screenshot_png)
    print(
        json.dumps(
            {
                "figures": page.figures,
                "errors": page.console_errors,
                "requests": page.requests,
                "size": [page.width, page.height],
            },
            indent=1,
        )
    )
