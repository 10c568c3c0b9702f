"""A small news site on 127.0.0.1 whose routes a test scripts: feeds, pages, and bad cases.

Each route answers with a status, headers and body, optionally after a delay, and honours
ETag / Last-Modified conditional requests. Every request is logged (path, headers), so tests
can count what the scraper asked for.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    etag: str | None = None
    last_modified: str | None = None
    then: Route | None = None  # what the route answers after its first answer
    trickle_s: float = 0.0  # seconds between bytes of the body
    gate: threading.Event | None = None  # answer only once the test sets it


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    status: int


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # clients that give up (timeouts, size limits) reset connections on purpose


class NewsServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = (
                True  # headers and body go out as two writes; without this a 40 ms delayed-ACK stall follows
            )

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                key = self.path if self.path in server.routes else self.path.split("?")[0]
                with server._lock:
                    route = server.routes.get(key)
                    if route is not None and route.then is not None:
                        server.routes[key] = route.then
                if route is None:
                    route = Route(b"<html><body><h1>Not found</h1></body></html>", status=404)
                if route.gate is not None:
                    route.gate.wait()
                if route.delay_s:
                    time.sleep(route.delay_s)
                status, body = route.status, route.body
                conditional = (route.etag and self.headers.get("If-None-Match") == route.etag) or (
                    route.last_modified and self.headers.get("If-Modified-Since") == route.last_modified
                )
                if conditional and status == 200:
                    status, body = 304, b""
                with server._lock:
                    server.requests.append(Request(self.path, dict(self.headers), status))
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    if route.etag:
                        self.send_header("ETag", route.etag)
                    if route.last_modified:
                        self.send_header("Last-Modified", route.last_modified)
                    for name, value in route.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if route.trickle_s:
                        for i in range(len(body)):
                            self.wfile.write(body[i : i + 1])
                            self.wfile.flush()
                            time.sleep(route.trickle_s)
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> NewsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        for route in list(self.routes.values()):
            if route.gate is not None:
                route.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]
