"""A fault layer in front of the stand-ins (moto's server, the Cloud Run fake): an HTTP proxy the real clients
(boto3, the run_v2 client) talk to, which passes every call through unless a schedule picks it, and then
answers it as the cloud does on a bad day:

- ``throttle``: the service's own throttling error, in its protocol's wire shape (botocore's service model
  names the protocol): rest-json (Lambda, API Gateway v2) a 429 with ``x-amzn-ErrorType:
  TooManyRequestsException`` (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_Errors
  lists TooManyRequestsException, HTTP 429, for every Lambda API); json (ECR, CloudWatch Logs, Secrets
  Manager) a 400 ``{"__type": "ThrottlingException"}``; query (IAM, STS) a 400 XML ``<Code>Throttling</Code>``
  (https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html: ThrottlingException / Throttling,
  400); Google's a 429 ``google.rpc.Status`` RESOURCE_EXHAUSTED (https://cloud.google.com/apis/design/errors);
- ``error``: a 5xx of the same shapes (Lambda's ServiceException 500, the common InternalFailure 500 /
  ServiceUnavailable 503, Google's UNAVAILABLE 503);
- ``reset``: the connection closed with a TCP reset before any answer;
- ``slow``: the answer held back for ``delay`` seconds (past the client's read timeout), then passed on;
- ``after``: the call passed to the stand-in (the change is made) and then its answer replaced by a 5xx or a
  reset, so the client never hears that it succeeded.

Which call is which comes from the vendors' machine-readable models, not our own list: the AWS service from the
SigV4 credential scope, the operation from botocore's service model (the X-Amz-Target of json, the Action of
query, the method and request URI template of rest-json); Google's from the run v2 discovery document
(googleapiclient ships it). Every call is recorded (``calls``) with the fault it got.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import re
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

KINDS = ("throttle", "error", "reset", "slow", "after")
#: Calls that change something: where a fault after the change (``after``) is a different fault.
READS = re.compile(r"^(Get|List|Describe|BatchGet|Filter|Head)")
#: SigV4 signing names that are not botocore's service names (apigateway signs API Gateway v1 and v2).
SIGNING_NAMES = {"apigateway": "apigatewayv2", "execute-api": "apigatewayv2"}


@dataclass(frozen=True)
class Call:
    """One call through the proxy: the service, the operation, and what it got (a fault kind or None)."""

    service: str
    operation: str
    fault: str | None = None
    status: int | None = None

    @property
    def mutating(self) -> bool:
        method = self.operation.rsplit(".", 1)[-1]  # Google's ids end in the method: ...services.getIamPolicy
        return not READS.match(method[:1].upper() + method[1:])


@dataclass(frozen=True)
class Fault:
    kind: str
    delay: float = 0.0  # slow: seconds the answer is held back


@dataclass
class Schedule:
    """Which calls get which fault: by position among the calls a filter admits (``picks``: index -> fault)."""

    picks: dict[int, Fault] = field(default_factory=dict)
    admits: Callable[[Call], bool] = lambda call: True
    seen: int = 0

    def decide(self, call: Call) -> Fault | None:
        if not self.admits(call):
            return None
        index, self.seen = self.seen, self.seen + 1
        return self.picks.get(index)

    @classmethod
    def seeded(
        cls,
        seed: int,
        baseline: list[Call],
        count: int = 1,
        kinds: Iterable[str] = KINDS,
        admits: Callable[[Call], bool] = lambda call: True,
        delay: float = 0.0,
    ) -> Schedule:
        """``count`` faults among the calls of a fault-free run (``baseline``), chosen by ``seed``; ``after``
        only where the call changes something."""
        rng = random.Random(seed)
        admitted = [call for call in baseline if admits(call)]
        picks: dict[int, Fault] = {}
        for index in rng.sample(range(len(admitted)), min(count, len(admitted))):
            choices = [k for k in kinds if k != "after" or admitted[index].mutating]
            picks[index] = Fault(rng.choice(choices), delay)
        return cls(picks, admits)


class FaultProxy:
    """An HTTP proxy to ``upstream`` (``http://host:port``) that applies ``schedule`` (none: all passes)."""

    def __init__(self, upstream: str, schedule: Schedule | None = None) -> None:
        self.upstream = urlsplit(upstream)
        self.schedule = schedule or Schedule()
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                proxy._handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                """A client that gave up (its timeout passed a slow answer) is no error of the proxy."""
                import sys

                if not isinstance(sys.exc_info()[1], OSError):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self, schedule: Schedule | None = None) -> None:
        """A new schedule, the record emptied."""
        with self.lock:
            self.schedule, self.calls = schedule or Schedule(), []

    def faulted(self) -> list[Call]:
        return [call for call in self.calls if call.fault]

    # -- one request -----------------------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        body = _read_body(request)
        service, operation, shape = identify(request.command, request.path, request.headers, body)
        with self.lock:
            fault = self.schedule.decide(Call(service, operation))
        kind = fault.kind if fault else None

        def record(status: int | None) -> None:  # before the client hears anything: its next call comes after
            with self.lock:
                self.calls.append(Call(service, operation, kind, status))

        if fault is not None and fault.kind == "slow":  # recorded now: the client may be gone by the answer
            record(None)
            time.sleep(fault.delay)
            self._forward(request, body, lambda status: None)
        elif fault is None:
            self._forward(request, body, record)
        elif fault.kind in ("reset", "after"):
            if fault.kind == "after":
                self._forward(request, body, None)
            record(None)
            _reset(request)
        else:
            status, headers, payload = error_answer(shape, fault.kind)
            record(status)
            _answer(request, status, headers, payload)

    def _forward(
        self, request: BaseHTTPRequestHandler, body: bytes, record: Callable[[int], None] | None
    ) -> None:
        """Pass the request on; answer the client with the stand-in's answer unless ``record`` is None."""
        connection = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=300)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "transfer-encoding"}
        headers["Content-Length"] = str(len(body))
        try:
            connection.request(request.command, request.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        if record is None:
            return
        record(response.status)
        passed = {
            key: value
            for key, value in response.getheaders()
            if key.lower() not in ("transfer-encoding", "content-length", "connection", "date", "server")
        }
        _answer(request, response.status, passed, payload if request.command != "HEAD" else b"", len(payload))


def _read_body(request: BaseHTTPRequestHandler) -> bytes:
    if request.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(request.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                request.rfile.readline()
                return b"".join(chunks)
            chunks.append(request.rfile.read(size))
            request.rfile.readline()
    length = int(request.headers.get("Content-Length") or 0)
    return request.rfile.read(length) if length else b""


def _reset(request: BaseHTTPRequestHandler) -> None:
    """Close the client's connection with a TCP reset (SO_LINGER 0), no answer."""
    with contextlib.suppress(OSError):
        request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    request.close_connection = True
    with contextlib.suppress(OSError):
        request.connection.close()


# -- error answers in each protocol's shape ------------------------------------------------------------
def _answer(
    request: BaseHTTPRequestHandler,
    status: int,
    headers: dict[str, str],
    payload: bytes,
    length: int | None = None,
) -> None:
    with contextlib.suppress(OSError):  # the client gave up (its read timeout, after a slow answer)
        request.send_response(status)
        for key, value in headers.items():
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(payload) if length is None else length))
        request.end_headers()
        request.wfile.write(payload)


def error_answer(shape: str, kind: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a throttling (``throttle``) or server (``error``) error in ``shape``: an
    AWS protocol (rest-json, json, query, rest-xml) or ``google``."""
    request_id = str(uuid.uuid4())
    throttled = kind == "throttle"
    if shape == "google":
        status, code = (429, "RESOURCE_EXHAUSTED") if throttled else (503, "UNAVAILABLE")
        message = "Quota exceeded" if throttled else "The service is currently unavailable."
        body = {"error": {"code": status, "message": message, "status": code}}
        return status, {"Content-Type": "application/json"}, json.dumps(body).encode()
    if shape == "rest-json":
        status, code = (429, "TooManyRequestsException") if throttled else (500, "ServiceException")
        body = {"Type": "User" if throttled else "Service", "message": "Rate exceeded" if throttled else code}
        headers = {
            "Content-Type": "application/json",
            "x-amzn-ErrorType": code,
            "x-amzn-RequestId": request_id,
        }
        return status, headers, json.dumps(body).encode()
    if shape == "json":
        status, code = (400, "ThrottlingException") if throttled else (500, "InternalFailure")
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id}
        return status, headers, json.dumps({"__type": code, "message": "Rate exceeded"}).encode()
    status, code = (400, "Throttling") if throttled else (503, "ServiceUnavailable")
    kind_of = "Sender" if throttled else "Receiver"
    xml = (
        f"<ErrorResponse><Error><Type>{kind_of}</Type><Code>{code}</Code><Message>Rate exceeded</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return status, {"Content-Type": "text/xml"}, xml.encode()


# -- which call is it ------------------------------------------------------------------------------------
def identify(method: str, path: str, headers: Any, body: bytes) -> tuple[str, str, str]:
    """(service, operation, error shape) of a request, from the vendors' models."""
    authorization = headers.get("Authorization", "") or ""
    scope = re.search(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request", authorization)
    if scope is None:
        if re.search(r"/v2/projects/|/v2/operations|/projects/.*/operations", path):
            return "run", google_operation(method, path), "google"
        return "unsigned", f"{method} {urlsplit(path).path}", "json"
    service = SIGNING_NAMES.get(scope.group(1), scope.group(1))
    if service == "apigatewayv2" and not path.startswith("/v2/"):
        service = "apigateway"
    model = _service_model(service)
    protocol = model.metadata.get("protocol", "json")
    if protocol == "json":
        target = headers.get("X-Amz-Target", "") or ""
        return service, target.rsplit(".", 1)[-1], "json"
    if protocol == "query":
        action = parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
        action = action or parse_qs(urlsplit(path).query).get("Action", [""])[0]
        return service, action, "query"
    return service, _rest_operation(service, method, urlsplit(path).path), protocol


@cache
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@cache
def _rest_routes(service: str) -> list[tuple[str, re.Pattern[str], int, str]]:
    """(method, path pattern, literal length, operation) of every operation of a rest service."""
    model = _service_model(service)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http["requestUri"].split("?", 1)[0]
        pattern = "".join(
            ("[^/]+" if not part.endswith("+}") else ".+") if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", uri)
        )
        literal = len(re.sub(r"\{[^}]+\}", "", uri))
        routes.append((http["method"], re.compile(f"^{pattern}/?$"), literal, name))
    return routes


def _rest_operation(service: str, method: str, path: str) -> str:
    from urllib.parse import unquote

    path = unquote(path)
    matches = [
        (literal, name)
        for m, pattern, literal, name in _rest_routes(service)
        if m == method and pattern.match(path)
    ]
    return max(matches)[1] if matches else f"{method} {path}"


@cache
def _google_routes() -> list[tuple[str, re.Pattern[str], int, str]]:
    import googleapiclient

    document = Path(googleapiclient.__file__).parent / "discovery_cache/documents/run.v2.json"
    routes = []

    def walk(resources: dict[str, Any], prefix: str) -> None:
        for name, resource in resources.items():
            for _method_name, method in resource.get("methods", {}).items():
                flat = method.get("flatPath") or method["path"]
                pattern = "".join(
                    "[^/]+" if part.startswith("{") else re.escape(part)
                    for part in re.split(r"(\{[^}]+\})", flat)
                )
                literal = len(re.sub(r"\{[^}]+\}", "", flat))
                routes.append((method["httpMethod"], re.compile(f"^/{pattern}$"), literal, method["id"]))
            walk(resource.get("resources", {}), f"{prefix}{name}.")

    walk(json.loads(document.read_text())["resources"], "")
    return routes


def google_operation(method: str, path: str) -> str:
    """The run v2 method id (``run.projects.locations.services.patch``) of a request."""
    path = urlsplit(path).path
    matches = [
        (literal, name)
        for m, pattern, literal, name in _google_routes()
        if m == method and pattern.match(path)
    ]
    return max(matches)[1] if matches else f"{method} {path}"


# -- figures for benchmarks/cloud_faults.py ----------------------------------------------------------------
FIGURES_ENV = "NFLDEPLOY_FAULT_FIGURES"  # a JSON-lines file each schedule's outcome is appended to
SCHEDULES_ENV = "NFLDEPLOY_FAULT_SCHEDULES"  # how many seeded schedules the slow tests run per target


def schedule_count(default: int = 100) -> int:
    """The seeded schedules a slow test runs per target ($NFLDEPLOY_FAULT_SCHEDULES, else ``default``)."""
    import os

    return int(os.environ.get(SCHEDULES_ENV) or default)


def record_figure(
    target: str,
    seed: int,
    faults: list[Call],
    exit_code: int,
    seconds: float,
    violations: list[str],
    rerun_seconds: float | None = None,
) -> None:
    """Append one schedule's outcome to $NFLDEPLOY_FAULT_FIGURES (nothing when unset)."""
    import os

    path = os.environ.get(FIGURES_ENV)
    if not path:
        return
    line = {
        "target": target,
        "seed": seed,
        "faults": [f"{c.fault} {c.service}:{c.operation}" for c in faults],
        "exit_code": exit_code,
        "seconds": round(seconds, 3),
        "rerun_seconds": None if rerun_seconds is None else round(rerun_seconds, 3),
        "violations": violations,
    }
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")
