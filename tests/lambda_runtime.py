"""A small Lambda Runtime API server (the interface awslambdaric speaks), for driving a Lambda image."""

from __future__ import annotations

import json
import queue
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"


class RuntimeAPI:
    """Hands out queued events on /invocation/next and collects responses and errors by request id."""

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.responses: dict[str, Any] = {}
        self.errors: dict[str, Any] = {}
        self.done = threading.Condition()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length) if length else b""
                try:
                    return json.loads(raw or b"null")
                except ValueError:
                    return raw.decode(errors="replace")

            def _reply(self, status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    self._reply(404)
                    return
                request_id, event = api.events.get()  # blocks like the real API until there is work
                self._reply(
                    200,
                    json.dumps(event).encode(),
                    {
                        "Lambda-Runtime-Aws-Request-Id": request_id,
                        "Lambda-Runtime-Deadline-Ms": "9999999999999",
                        "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:nfl-trajectory",
                        "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                        "Content-Type": "application/json",
                    },
                )

            def do_POST(self) -> None:
                parts = self.path.removeprefix(PREFIX).strip("/").split("/")
                body = self._body()
                with api.done:
                    if parts[0] == "invocation" and parts[-1] == "response":
                        api.responses[parts[1]] = body
                    else:
                        api.errors[parts[1] if parts[0] == "invocation" else "init"] = body
                    api.done.notify_all()
                self._reply(202)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, event: dict[str, Any], timeout: float = 60.0) -> Any:
        """Queue an event and wait for the function's response (or error)."""
        request_id = str(uuid.uuid4())
        self.events.put((request_id, event))
        with self.done:
            if not self.done.wait_for(
                lambda: request_id in self.responses or request_id in self.errors or "init" in self.errors,
                timeout,
            ):
                raise TimeoutError("the function did not answer")
        if request_id in self.responses:
            return self.responses[request_id]
        raise RuntimeError(f"the function failed: {self.errors.get(request_id) or self.errors.get('init')}")

    def close(self) -> None:
        self.server.shutdown()
