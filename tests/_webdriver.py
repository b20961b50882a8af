"""Just enough of the W3C WebDriver protocol (chromedriver) over urllib, and a static file server.

Shared by tests/test_book.py (the static slider of a tiny book) and tests/test_book_pages.py (every
page of the smoke book): no selenium needed, only Debian's ``chromium`` and ``chromium-driver``.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
HAVE_CHROMIUM = CHROMIUM.exists() and CHROMEDRIVER.exists()
NO_CHROMIUM = "needs Debian's chromium and chromium-driver: run .ci/install-chromium as root"


class _WebDriver:
    """A headless Chromium session driven through chromedriver.

    Parameters
    ----------
    width, height : int
        The window size (desktop) or, with ``mobile=True``, the emulated device's viewport in CSS px.
    mobile : bool
        Emulate a phone (``goog:chromeOptions.mobileEmulation``: touch, the viewport meta tag honoured,
        device pixel ratio 2), so that the layout viewport is ``width`` CSS px wide.
    logs : bool
        Record the browser console (``browser`` log: console messages, uncaught errors and
        "Failed to load resource") and the network events (``performance`` log), read with
        :meth:`log` / :meth:`network`.
    """

    ARGS = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ]

    def __init__(self, width: int = 900, height: int = 700, mobile: bool = False, logs: bool = False):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            [str(CHROMEDRIVER), f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.base, self.profile, self.sid = f"http://127.0.0.1:{port}", tempfile.mkdtemp(prefix="chromium-"), None
        try:
            deadline = time.time() + 20
            while True:
                try:
                    self._call("GET", "/status")
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.1)
            args = [*self.ARGS, f"--user-data-dir={self.profile}"]
            opts: dict = {"binary": str(CHROMIUM), "args": args}
            if mobile:
                opts["mobileEmulation"] = {
                    "deviceMetrics": {
                        "width": width,
                        "height": height,
                        "pixelRatio": 2.0,
                        "mobile": True,
                        "touch": True,
                    }
                }
                args.append("--window-size=500,1000")
            else:
                args.append(f"--window-size={width},{height}")
            caps: dict = {"browserName": "chrome", "goog:chromeOptions": opts}
            if logs:
                caps["goog:loggingPrefs"] = {"browser": "ALL", "performance": "ALL"}
                opts["perfLoggingPrefs"] = {"enableNetwork": True, "enablePage": False}
            self.sid = self._call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})["sessionId"]
            self("POST", "/timeouts", {"script": 120_000, "pageLoad": 120_000})
            if not mobile:  # --window-size is the outer window; make the viewport itself width x height
                inner = self.js("return [window.innerWidth, window.innerHeight]")
                rect = self("GET", "/window/rect")
                self(
                    "POST",
                    "/window/rect",
                    {"width": rect["width"] + width - inner[0], "height": rect["height"] + height - inner[1]},
                )
            if logs:  # start from a blank page with empty logs (not the new-tab page's requests)
                self("POST", "/url", {"url": "about:blank"})
                self.log("browser")
                self.log("performance")
        except BaseException:
            self.close()
            raise

    def _call(self, method, path, body=None):
        req = urllib.request.Request(
            self.base + path,
            method=method,
            headers={"Content-Type": "application/json"},
            data=None if body is None else json.dumps(body).encode(),
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())["value"]

    def __call__(self, method, path, body=None):
        return self._call(method, f"/session/{self.sid}{path}", body)

    def js(self, script, *args):
        return self("POST", "/execute/sync", {"script": script, "args": list(args)})

    def js_async(self, script, *args):
        """Run ``script`` with a callback as its last argument (``arguments[arguments.length - 1]``)."""
        return self("POST", "/execute/async", {"script": script, "args": list(args)})

    def wait_js(self, script, timeout=30.0):
        deadline = time.time() + timeout
        while not (value := self.js(script)):
            if time.time() > deadline:
                raise TimeoutError(script)
            time.sleep(0.1)
        return value

    def log(self, kind: str = "browser") -> list[dict]:
        """The entries of log ``kind`` since the last call (chromedriver's ``/se/log``)."""
        return self("POST", "/se/log", {"type": kind})

    def network(self) -> list[dict]:
        """The requests since the last call, from the performance log.

        Returns
        -------
        list of dict
            ``{"url", "status", "error"}`` per request (``status`` None when no response came,
            ``error`` the net error text of a failed request, else None); ``data:`` and ``blob:``
            URLs are left out.
        """
        requests: dict[str, dict] = {}
        for entry in self.log("performance"):
            msg = json.loads(entry["message"])["message"]
            method, params = msg.get("method", ""), msg.get("params", {})
            rid = params.get("requestId")
            if method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(("data:", "blob:")):
                    requests.setdefault(rid, {"url": url, "status": None, "error": None})["url"] = url
            elif rid in requests and method == "Network.responseReceived":
                requests[rid]["status"] = params["response"]["status"]
            elif rid in requests and method == "Network.loadingFailed":
                requests[rid]["error"] = params.get("errorText") or "failed"
        return list(requests.values())

    def close(self):
        try:
            if self.sid:
                self("DELETE", "")
        finally:
            self.proc.terminate()
            self.proc.wait(10)
            shutil.rmtree(self.profile, ignore_errors=True)


class StaticServer:
    """Serve ``directory`` on 127.0.0.1 (a free port) in a thread; ``origin`` is its base URL.

    Every request is recorded in ``requests`` as ``(path, status)``.
    """

    def __init__(self, directory: Path):
        server = self
        self.requests: list[tuple[str, int]] = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def log_request(self, code="-", size="-"):
                server.requests.append((self.path, int(getattr(code, "value", code))))

        handler = functools.partial(Handler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
