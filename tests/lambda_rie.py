"""AWS's Lambda Runtime Interface Emulator (``aws-lambda-rie``) for the tests: a Lambda image runs under it as
AWS's base images run it, the emulator as the container's entrypoint in front of the image's own command
(https://github.com/aws/aws-lambda-runtime-interface-emulator, "Test an image without adding RIE to the
image"), and answers ``POST /2015-03-31/functions/function/invocations`` with what the function returned.

The emulator is the binary inside the ``aws-sam-cli`` wheel that scripts/tools.txt pins (scripts/setup installs
it into .tools/sam: ``samcli/local/rapid/aws-lambda-rie-<arch>``), bind-mounted read-only: the image stays as
shipped. The container shares the host's network (as the other Lambda tests do) so that the function reaches
moto's server on 127.0.0.1; the emulator's two listening addresses (its invoke API and the Runtime API it
serves the runtime) are therefore given free loopback ports instead of 8080 and 9001, with its own flags
``--runtime-interface-emulator-address`` and ``--runtime-api-address``.

What the emulator does and Lambda's documentation states, as the tests found it:
- it starts the runtime on the first invocation (init, then the invoke); an init that raises is answered
  502 with the runtime's error (``errorType``, ``errorMessage``), and the next invocation inits again;
- ``AWS_LAMBDA_FUNCTION_TIMEOUT`` (seconds) bounds init and invoke together: past it the answer is 200 with
  the text ``Task timed out after N.00 seconds`` and the runtime is killed;
- a handler's exception is answered 200 with the error object (no ``X-Amz-Function-Error`` header);
- it reads at most 6 MiB + 100 bytes of an event and hands the runtime the truncated rest (an
  ``Runtime.UnmarshalError``), where Lambda refuses a synchronous payload over 6 MB
  (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html, "Invocation payload (request and
  response)", RequestEntityTooLargeException): a front put before the emulator refuses it itself.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid
from base64 import b64decode, b64encode
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from nfldeploy.ports import free_port
from services import tool, unavailable

MOUNT = "/aws-lambda/aws-lambda-rie"
INVOCATIONS = "/2015-03-31/functions/function/invocations"
LABEL = "io.nfldeploy.test.lambda-rie"
#: The emulator's file name for each Lambda architecture (the arm64 one cannot run on this x86_64 host).
BINARIES = {"x86_64": "aws-lambda-rie-x86_64", "arm64": "aws-lambda-rie-arm64"}


def rie_binary(architecture: str = "x86_64") -> Path | None:
    """The emulator from the pinned aws-sam-cli (its venv under .tools/sam, or this interpreter's)."""
    roots = []
    sam = tool("sam")
    if sam is not None:
        roots.append(Path(sam).resolve().parents[1])  # <venv>/bin/sam -> <venv>
    roots.append(Path(sys.prefix))
    for root in roots:
        for found in root.glob(f"lib/python3*/site-packages/samcli/local/rapid/{BINARIES[architecture]}"):
            return found
    return None


def require_rie(architecture: str = "x86_64") -> Path:
    binary = rie_binary(architecture)
    if binary is None:
        unavailable(
            "AWS's Lambda Runtime Interface Emulator is missing (aws-sam-cli)",
            "run scripts/setup: it installs aws-sam-cli from scripts/tools.txt into .tools/sam",
        )
    return binary


@dataclass
class Answer:
    """The emulator's answer to one invocation."""

    status: int
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def timed_out(self) -> bool:
        return self.status == 200 and self.body.startswith(b"Task timed out after")

    @property
    def function_error(self) -> dict[str, Any] | None:
        """The runtime's error object (init or invoke), or None when the function answered.
        https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html (errorMessage, errorType)."""
        try:
            body = json.loads(self.body)
        except ValueError:
            return None
        if (
            isinstance(body, dict)
            and "errorType" in body
            and "errorMessage" in body
            and "statusCode" not in body
        ):
            return body
        return None


@dataclass
class RieFunction:
    """One execution environment: ``image`` under the emulator with ``env`` (plus the variables Lambda sets),
    started on ``start()``, removed on ``close()`` (also as a context manager, whatever happened)."""

    client: Any
    image: str
    env: dict[str, str] = field(default_factory=dict)
    name: str = "function"
    version: str = "$LATEST"
    timeout: int = 30  # seconds: AWS_LAMBDA_FUNCTION_TIMEOUT
    memory: int = 1024  # MB: AWS_LAMBDA_FUNCTION_MEMORY_SIZE, and the container's memory limit
    region: str = "us-east-1"
    architecture: str = "x86_64"
    command: list[str] | None = None  # the function's ImageConfig EntryPoint + Command, when it sets them
    # Lambda runs an image on a read-only file system with a writable /tmp of 512 MB to 10,240 MB
    # (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html, "Requirements"); the emulator does
    # not, so the container does.
    read_only: bool = True
    ephemeral_storage: int = 512  # MB of /tmp
    mounts: dict[str, str] = field(default_factory=dict)  # host path -> container path, read-only
    container: Any = None
    port: int = 0

    def start(self) -> RieFunction:
        binary = require_rie(self.architecture)
        config = self.client.images.get(self.image).attrs["Config"]
        command = self.command or [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
        self.port, runtime_port = free_port(), free_port()
        environment = {
            # what Lambda sets in every execution environment
            # (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime)
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_VERSION": self.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.timeout),
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
            **self.env,
        }
        self.container = self.client.containers.run(
            self.image,
            entrypoint=[MOUNT],
            command=[
                "--runtime-interface-emulator-address",
                f"127.0.0.1:{self.port}",
                "--runtime-api-address",
                f"127.0.0.1:{runtime_port}",
                *command,
            ],
            environment=environment,
            volumes={
                str(binary): {"bind": MOUNT, "mode": "ro"},
                **{host: {"bind": inside, "mode": "ro"} for host, inside in self.mounts.items()},
            },
            read_only=self.read_only,
            tmpfs={"/tmp": f"size={self.ephemeral_storage}m"},
            network_mode="host",
            mem_limit=f"{self.memory}m",
            labels={LABEL: self.name},
            detach=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return self
            self.container.reload()
            if self.container.status == "exited":
                break
            time.sleep(0.1)
        logs = self.logs()
        self.close()
        raise RuntimeError(f"the emulator did not listen on 127.0.0.1:{self.port}:\n{logs}")

    def invoke(self, event: dict[str, Any] | bytes, wait: float | None = None) -> Answer:
        """POST one event (a dict, or the raw payload) and return the emulator's answer."""
        data = event if isinstance(event, bytes) else json.dumps(event).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{INVOCATIONS}", data=data, method="POST"
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=wait or self.timeout + 60) as response:
                return Answer(response.status, response.read(), time.monotonic() - started)
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.read(), time.monotonic() - started)

    def logs(self) -> str:
        if self.container is None:
            return ""
        try:
            return str(self.container.logs().decode(errors="replace"))
        except Exception:  # the container may be gone already
            return ""

    def settled_logs(self, quiet: float = 0.5, wait: float = 5.0) -> str:
        """The logs once they stopped growing for ``quiet`` seconds (at most ``wait``): the emulator's own lines
        (``INIT RTDONE``, ``REPORT``) reach the container's log after the answer, and after the runtime's."""
        logs, deadline = self.logs(), time.monotonic() + wait
        while time.monotonic() < deadline:
            time.sleep(quiet)
            again = self.logs()
            if again == logs:
                break
            logs = again
        return logs

    def inits(self) -> int:
        """How many times the runtime ran its init to the end or to a failure (the emulator's ``INIT RTDONE``
        lines; its ``INIT START`` also marks an init it only records, after a failed one): once per cold
        start, and again after a failed init or a timeout."""
        return self.settled_logs().count("INIT RTDONE")

    def durations(self) -> list[float]:
        """Each finished invocation's ``Duration`` (ms) from the emulator's REPORT lines, in order."""
        return [
            float(found)
            for found in re.findall(
                r"^REPORT RequestId: \S+.*?\tDuration: ([0-9.]+) ms", self.settled_logs(), re.M
            )
        ]

    def records(self, msg: str | None = None) -> list[dict[str, Any]]:
        """The JSON log records the function wrote (those with ``msg`` when given)."""
        found = []
        for line in self.settled_logs().splitlines():
            start = line.find("{")
            if start < 0:
                continue
            try:
                record = json.loads(line[start:])
            except ValueError:
                continue
            if isinstance(record, dict) and "msg" in record and (msg is None or record["msg"] == msg):
                found.append(record)
        return found

    def close(self) -> None:
        if self.container is not None:
            with contextlib.suppress(Exception):
                self.container.remove(force=True)
            self.container = None

    def __enter__(self) -> RieFunction:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def url_event(
    method: str,
    path: str,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    domain: str = "abc123.lambda-url.us-east-1.on.aws",
    stage: str | None = None,
    api_id: str = "abc123",
    query: str = "",
    base64: bool = False,
) -> dict[str, Any]:
    """A payload 2.0 event (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html, "Request payload
    format"): a function URL's, or with ``stage`` an API Gateway HTTP API's
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
    ``base64`` sends the body base64-encoded, as both fronts do for a body that is not text."""
    now = time.time()
    if body is not None and base64:
        body = b64encode(body.encode()).decode()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "host": domain,
            "x-forwarded-for": "203.0.113.9",
            "x-forwarded-proto": "https",
            "x-forwarded-port": "443",
            **({"content-type": "application/json"} if body is not None else {}),
            **(headers or {}),
        },
        "requestContext": {
            "accountId": "anonymous" if stage is None else "123456789012",
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "nfldeploy-tests",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": stage or "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        **({"body": body} if body is not None else {}),
        "isBase64Encoded": base64 and body is not None,
    }


def moto_env(moto_endpoint: str) -> dict[str, str]:
    """What a function needs to reach moto's server as its execution role would reach AWS."""
    return {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing-secret-value",
    }


class EventTransport(httpx.BaseTransport):
    """An httpx transport that sends each request to ``function`` as a payload 2.0 event (a function URL's, or
    with ``stage`` an HTTP API's) and maps the answer back to HTTP, so that the smoke test's own checks run
    against the image under the emulator. A function error or a timeout is a 502, as both fronts answer
    one; a function URL's auth and limits are not checked here."""

    def __init__(self, function: RieFunction, stage: str | None = None, api_id: str = "abc123") -> None:
        self.function, self.stage, self.api_id = function, stage, api_id

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        headers = {name.lower(): value for name, value in request.headers.items()}
        event = url_event(
            request.method,
            request.url.path,
            body.decode() if body else None,
            headers=headers,
            domain=request.url.host,
            stage=self.stage,
            api_id=self.api_id,
            query=request.url.query.decode(),
        )
        answer = self.function.invoke(event)
        if answer.status != 200 or answer.timed_out or answer.function_error is not None:
            return httpx.Response(502, content=answer.body, request=request)
        # the function's answer (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html,
        # "Response payload format")
        payload = answer.json()
        content = payload.get("body") or ""
        raw = b64decode(content) if payload.get("isBase64Encoded") else content.encode()
        return httpx.Response(
            int(payload["statusCode"]), headers=payload.get("headers") or {}, content=raw, request=request
        )
