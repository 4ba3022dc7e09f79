"""Base of every emulator: a small werkzeug WSGI app standing in for an external API.

Common to all: ``GET /_emulator/state`` (credentials + stored entities as JSON),
``POST /_emulator/faults`` (inject errors, latency, rate-limit changes), ``POST
/_emulator/reset``. Subclasses add the system's own routes. Runnable as
``python -m connectors.<system>.emulator --host 127.0.0.1 --port N``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, default=str), status=status,
                    headers=headers or {}, mimetype="application/json")


@dataclass
class Fault:
    """Answer ``status`` (or just delay) for the next ``times`` matching requests; a string
    ``body`` is sent as HTML, anything else as JSON; ``after`` does the work first, so the
    caller loses a response to a request that did succeed."""

    status: int | None = None
    times: int = 1
    path_prefix: str = ""
    retry_after: float | None = None
    latency_ms: int = 0
    body: Any = None
    after: bool = False  # do the work, then answer the fault: "the response was lost"

    def matches(self, path: str) -> bool:
        return self.times > 0 and path.startswith(self.path_prefix or "/")


class Emulator:
    name = "emulator"
    #: default requests per second before 429; None = unlimited. Subclasses use the real number.
    default_rate_limit: float | None = None

    def __init__(self, *, rate_limit: float | None = None) -> None:
        self.lock = threading.RLock()
        self.rate_limit = rate_limit if rate_limit is not None else self.default_rate_limit
        self.faults: list[Fault] = []
        self.request_times: deque[float] = deque()
        self.request_log: deque[dict[str, Any]] = deque(maxlen=500)
        self.deliveries: list[threading.Thread] = []
        self.url_map = Map(self.routes(), strict_slashes=False, merge_slashes=True)
        self.reset()

    # to override ------------------------------------------------------------
    def routes(self) -> list[Rule]:
        return []

    def reset(self) -> None:
        """(Re)create the stored entities."""

    def credentials(self) -> dict[str, Any]:
        return {}

    def entities(self) -> dict[str, Any]:
        return {}

    def control(self, spec: dict[str, Any]) -> None:
        """System-specific knobs posted to /_emulator/faults (e.g. expire all tokens)."""

    # plumbing -----------------------------------------------------------------
    def deliver_later(self, url: str, body: str, headers: dict[str, str], timeout: float = 5) -> None:
        """POST a hook in the background, as the real system does after answering the API call;
        a failed delivery is dropped (neither amoCRM nor Bitrix24 retries reliably)."""
        def send() -> None:
            try:
                requests.post(url, data=body, timeout=timeout, headers=headers)
            except requests.RequestException:
                pass

        thread = threading.Thread(target=send, daemon=True)
        self.deliveries.append(thread)
        thread.start()

    def post_now(self, url: str, body: bytes | str, headers: dict[str, str],
                 timeout: float = 30) -> tuple[int | None, str]:
        """POST a hook and wait, as the system does when a test or the sandbox asks it to report
        something now: the receiver's status and body, or None and the error's name."""
        try:
            answer = requests.post(url, data=body, headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            return None, type(exc).__name__
        return answer.status_code, answer.text

    def wait_deliveries(self, timeout: float = 10) -> None:
        """For tests and the sandbox: block until every queued hook was delivered (or failed)."""
        while self.deliveries:
            self.deliveries.pop(0).join(timeout)

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {"credentials": self.credentials(), **self.entities(),
                    "faults": [f.__dict__ for f in self.faults if f.times > 0],
                    "rate_limit": self.rate_limit, "requests": list(self.request_log)}

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        return self.dispatch(request)(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = re.sub("/+", "/", "/" + request.path)  # real clients send //api/... too
        if path in ("/_emulator/state", "/_emulator/reset", "/_emulator/faults"):
            return self._control(request, path)
        if path.startswith("/_emulator/"):  # a subclass's own knob: no faults, no limits
            return self._route(request, path)
        with self.lock:
            self.request_log.append({"method": request.method, "path": path, "time": time.time()})
            fault = next((f for f in self.faults if f.matches(path)), None)
            if fault:
                fault.times -= 1
            limited = self._rate_limited()
        if fault and fault.latency_ms:
            time.sleep(fault.latency_ms / 1000)
        if fault and fault.status and fault.after:
            self._route(request, path)
        if fault and fault.status:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            if isinstance(fault.body, str):  # a text body: proxies' and maintenance pages' HTML
                return Response(fault.body, status=fault.status, headers=headers, mimetype="text/html")
            return json_response(fault.body if fault.body is not None else {"error": "injected fault"},
                                 fault.status, headers)
        if limited:
            return json_response({"error": "rate limit exceeded"}, 429, {"Retry-After": "1"})
        return self._route(request, path)

    def _route(self, request: Request, path: str) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match(path_info=path, method=request.method)
            return getattr(self, endpoint)(request, **args)
        except NotFound:
            return json_response({"error": f"no such endpoint {request.method} {path}"}, 404)
        except HTTPException as exc:
            return json_response({"error": exc.description}, exc.code or 500)

    def _rate_limited(self) -> bool:
        if not self.rate_limit:
            return False
        now = time.monotonic()
        while self.request_times and now - self.request_times[0] >= 1.0:
            self.request_times.popleft()
        if len(self.request_times) >= self.rate_limit:
            return True
        self.request_times.append(now)
        return False

    def _control(self, request: Request, path: str) -> Response:
        if path == "/_emulator/state" and request.method == "GET":
            return json_response(self.state())
        if path == "/_emulator/reset" and request.method == "POST":
            with self.lock:
                self.faults.clear()
                self.reset()
            return json_response({"ok": True})
        if path == "/_emulator/faults" and request.method == "POST":
            spec = request.get_json(force=True, silent=True)
            if not isinstance(spec, dict):
                return json_response({"error": "expected a JSON object"}, 400)
            try:
                faults = [_fault(item) for item in spec.get("faults", [spec] if (
                    "status" in spec or "latency_ms" in spec) else [])]
                rate = spec.get("rate_limit", self.rate_limit)
                rate = None if rate is None else float(rate)
            except (TypeError, ValueError) as exc:
                return json_response({"error": f"bad fault spec: {exc}"}, 400)
            with self.lock:
                if spec.get("clear"):
                    self.faults.clear()
                self.rate_limit = rate
                self.faults.extend(faults)
                self.control(spec)
            return json_response({"ok": True, "faults": len(self.faults)})
        return json_response({"error": "unknown emulator control"}, 405)


def _fault(item: Any) -> Fault:
    """A Fault from JSON, with types checked (a bad knob must not break the emulator)."""
    if not isinstance(item, dict):
        raise TypeError("each fault is an object")
    return Fault(
        status=None if item.get("status") is None else int(item["status"]),
        times=int(item.get("times", 1)),
        path_prefix=str(item.get("path_prefix", "")),
        retry_after=None if item.get("retry_after") is None else float(item["retry_after"]),
        latency_ms=int(item.get("latency_ms", 0)),
        body=item.get("body"),
        after=bool(item.get("after", False)),
    )


class RunningEmulator:
    """An emulator served on a real port in a background thread (tests, bench, demo)."""

    def __init__(self, app: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.server.host}:{self.server.port}"

    def __enter__(self) -> RunningEmulator:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


class EmulatorProcess:
    """An emulator in its own process (benchmarks, timing-sensitive tests): its clock is not
    disturbed by our GIL and GC, as a real remote system's is not."""

    def __init__(self, system: str, *args: str) -> None:
        self.command = [sys.executable, "-m", f"connectors.{system}.emulator", "--port", "0", *args]
        self.url = ""

    def __enter__(self) -> EmulatorProcess:
        root = Path(__file__).resolve().parents[2]
        self.proc = subprocess.Popen(self.command, cwd=root, stdout=subprocess.PIPE,  # noqa: S603 - our module
                                     stderr=subprocess.DEVNULL, text=True)
        first_line = self.proc.stdout.readline() if self.proc.stdout else ""
        match = re.search(r"http://\S+", first_line)
        if match is None:
            self.proc.kill()
            raise RuntimeError(f"emulator did not start: {self.command}")
        self.url = match.group(0)
        return self

    def state(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/_emulator/state", timeout=60).json()

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def run_cli(factory: Callable[[argparse.Namespace], Emulator], description: str,
            add_arguments: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second before 429")
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args()
    app = factory(args)
    server = make_server(args.host, args.port, app, threaded=True)
    print(f"{app.name} emulator on http://{server.host}:{server.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
