"""A local fake of the Cloud Run Admin API v2 (REST), for the real ``google.cloud.run_v2`` client.

It speaks the wire protocol the client uses (camelCase JSON, long-running operations polled until ``done``,
``google.rpc.Status`` errors) and runs what it is asked to deploy: every revision is a container on the local
Docker engine, pulled from its registry, started with the revision's env (``secretKeyRef`` values come from
the fake's own Secret Manager), and only marked ready once its startup probe answers 200. Traffic is
recorded as Cloud Run records it, and each revision and tag gets a URL that really serves it; the service URL
is a router that splits requests across the revisions by their percent (smooth weighted round robin, so
10 % is exactly one request in ten).

It also answers the Cloud Logging API's ``entries:list`` (REST, for the real ``google.cloud.logging``
client) from the revision containers' output, as Cloud Run ships it: a JSON line becomes ``jsonPayload``, any
other line ``textPayload``, with the ``cloud_run_revision`` resource labels. Its filters: ``AND`` of
``field="value"``, ``field>="value"`` and ``field=("a" OR "b")`` on resource labels, ``timestamp`` and
``jsonPayload`` fields.

As strict as the API where this tool depends on it: a service has an ``etag`` that changes with every
update, and ``UpdateService`` with another (stale) etag fails with 409 ABORTED, as does ``SetIamPolicy``
with a stale policy etag (https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services
"etag ... May be used to detect modification conflict during updates"; IAM's Policy.etag: "If the etag
values do not match, the request fails with a 409 error code and ABORTED status"). Without an etag both
overwrite, as they do on Google's side.

UpdateService applies its ``updateMask``, or without one AIP-134's implied mask (every populated field
replaced whole, a map such as ``labels`` included), as ``cloudrun_update`` states with the pages it cites.
A revision name is unique: a template naming an existing revision with another configuration is 409
ALREADY_EXISTS (``_check_revision_name``).

The service URL honours the service's ``ingress``: a request through a front end its setting does not admit
is answered 403 before it reaches a revision (``INGRESS_ADMITS``). The tag URLs do not (they lead straight to
the revision's container).

Not the real thing: no auth check, no revision garbage collection.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cloudrun_update import MaskError, apply_update, written
from nfldeploy.service_logs import rfc3339
from services import free_port

FAKE_LABEL = "io.nfldeploy.test.fake-cloudrun"  # the revision
INSTANCE_LABEL = (
    "io.nfldeploy.test.fake-cloudrun-instance"  # which fake started it (stop removes only its own)
)
LOCATION = r"projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
SERVICE = LOCATION + r"/services/(?P<service>[^/:]+)"
REVISION_TYPE = {0: "UNSPECIFIED", 1: "LATEST", 2: "REVISION"}
READY_TIMEOUT = 90.0
#: run v2's IngressTraffic by number (the client sends enums as integers; JSON may also carry the names).
INGRESS_NAMES = {
    0: "INGRESS_TRAFFIC_UNSPECIFIED",
    1: "INGRESS_TRAFFIC_ALL",
    2: "INGRESS_TRAFFIC_INTERNAL_ONLY",
    3: "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
    4: "INGRESS_TRAFFIC_NONE",
}
#: Which of the fake's front ends each ingress setting admits (https://cloud.google.com/run/docs/securing/ingress:
#: "All network ingress paths are subject to the service's ingress setting", the run.app URL included).
#: Every caller of the fake is outside Google's network, and its load balancer is an external one, so
#: INTERNAL_ONLY admits none of them and INTERNAL_LOAD_BALANCER only the load balancer.
INGRESS_ADMITS = {
    "INGRESS_TRAFFIC_UNSPECIFIED": {"overwrite", "append", "load_balancer"},  # the API's default: all
    "INGRESS_TRAFFIC_ALL": {"overwrite", "append", "load_balancer"},
    "INGRESS_TRAFFIC_INTERNAL_ONLY": set(),
    "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER": {"load_balancer"},
    "INGRESS_TRAFFIC_NONE": set(),
}


class ApiError(Exception):
    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


@dataclass
class Revision:
    name: str
    image: str
    container: Any = None
    url: str = ""
    ready: bool = False
    service: str = ""  # projects/P/locations/L/services/S
    spec: str = ""  # its template as created (but the name), to refuse the name for another configuration


CLAUSE = re.compile(r'\s*([\w.]+)\s*(>=|=)\s*(?:"([^"]*)"|\(([^)]*)\))\s*')


def parse_filter(text: str) -> list[tuple[str, str, set[str]]]:
    """The clauses of a Logging filter this fake understands: (field, operator, accepted values)."""
    clauses = []
    for part in [p for p in re.split(r"\s+AND\s+", text.strip()) if p]:
        match = CLAUSE.fullmatch(part)
        if match is None:
            raise ApiError(400, "INVALID_ARGUMENT", f"unsupported filter clause: {part}")
        field_name, operator, single, group = match.groups()
        values = {single} if single is not None else set(re.findall(r'"([^"]*)"', group or ""))
        clauses.append((field_name, operator, values))
    return clauses


def _etag() -> str:
    """A new version's etag."""
    return f'"{base64.b64encode(uuid.uuid4().bytes[:9]).decode()}"'


def _spec(template: dict[str, Any]) -> str:
    """A revision's configuration: its template but the name."""
    return json.dumps({k: v for k, v in template.items() if k != "revision"}, sort_keys=True)


def _field(entry: dict[str, Any], dotted: str) -> Any:
    value: Any = entry
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@dataclass
class FakeCloudRun:
    """State plus the docker client that runs revisions; ``deny`` and ``exhausted`` make methods fail."""

    docker: Any
    secrets: dict[str, str] = field(default_factory=dict)  # "projects/P/secrets/S" -> value
    deny: set[str] = field(default_factory=set)  # methods answered 403 PERMISSION_DENIED
    exhausted: set[str] = field(default_factory=set)  # methods answered 429 RESOURCE_EXHAUSTED
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    revisions: dict[str, Revision] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    masks: list[str | None] = field(default_factory=list)  # each UpdateService's updateMask (None: none sent)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    routers: dict[str, ThreadingHTTPServer] = field(default_factory=dict)  # service name -> its URL's router
    instance: str = field(default_factory=lambda: uuid.uuid4().hex)
    front_end: str = "overwrite"  # what reaches the container as X-Forwarded-For: see forwarded_for
    fail_readiness: int = 0  # the next this many revisions fail their startup probe (the operation fails)

    #: The address of the load balancer's forwarding rule in the "load_balancer" front end (TEST-NET-3).
    LOAD_BALANCER_IP = "203.0.113.250"

    def ingress(self, service: str) -> str:
        """The IngressTraffic name ``service`` (its full name) has, as an integer or a name was stored."""
        value = self.services[service].get("ingress", 0)
        return INGRESS_NAMES[value] if isinstance(value, int) else str(value)

    def admitted(self, service: str) -> bool:
        """A request through the current ``front_end`` reaches ``service`` under its ingress setting."""
        return self.front_end in INGRESS_ADMITS[self.ingress(service)]

    def forwarded_for(self, supplied: str | None, caller: str) -> str:
        """The X-Forwarded-For the container receives, for each front end a request can come through:

        - ``overwrite``: run.app's front end sets the header to the caller's address alone, whatever the client
          sent (users' observations: https://github.com/GoogleCloudPlatform/esp-v2/pull/318 "When a request has
          no xff header, Cloud Run will set the header to contain the single remote client IP"; the team's
          ENVIRONMENT.md);
        - ``append``: the caller's address appended to what the client sent (observed by others, e.g.
          https://github.com/pgjones/hypercorn/issues/232), so the rightmost entry is still the caller's;
        - ``load_balancer``: a Google external Application Load Balancer in front appends
          ``<client-ip>,<load-balancer-ip>`` to what the client sent: ``<supplied-value>,<client-ip>,
          <load-balancer-ip>`` (https://cloud.google.com/load-balancing/docs/https#x-forwarded-for_header).
        """
        if self.front_end == "overwrite":
            return caller
        prefix = [supplied] if supplied else []
        if self.front_end == "append":
            return ",".join([*prefix, caller])
        if self.front_end == "load_balancer":
            return ",".join([*prefix, caller, self.LOAD_BALANCER_IP])
        raise ValueError(f"unknown front end {self.front_end!r}")

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    # -- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> FakeCloudRun:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                parts = urlsplit(self.path)
                try:
                    status, payload = fake.route(method, parts.path, parse_qs(parts.query), body)
                except ApiError as exc:
                    status = exc.code
                    payload = {"error": {"code": exc.code, "message": exc.message, "status": exc.status}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for server in [self.server, *self.routers.values()]:
            if server is not None:
                server.shutdown()
                server.server_close()
        mine = {"label": f"{INSTANCE_LABEL}={self.instance}"}
        for container in self.docker.containers.list(all=True, ignore_removed=True, filters=mine):
            container.remove(force=True)

    # -- routing ----------------------------------------------------------------------------------------
    def route(
        self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]
    ) -> tuple[int, Any]:
        path = path.removeprefix("/v2/")
        table = [
            ("POST", LOCATION + r"/services", "CreateService", self.create_service),
            ("GET", SERVICE + r":getIamPolicy", "GetIamPolicy", self.get_iam_policy),
            ("POST", SERVICE + r":setIamPolicy", "SetIamPolicy", self.set_iam_policy),
            ("GET", SERVICE, "GetService", self.get_service),
            ("PATCH", SERVICE, "UpdateService", self.update_service),
            ("DELETE", SERVICE, "DeleteService", self.delete_service),
            ("GET", LOCATION + r"/operations/(?P<operation>[^/:]+)", "GetOperation", self.get_operation),
            ("POST", r"entries:list", "ListLogEntries", self.list_entries),
        ]
        for verb, pattern, method_name, handler in table:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                self.calls.append(method_name)
                if method_name in self.deny:
                    raise ApiError(
                        403,
                        "PERMISSION_DENIED",
                        f"Permission 'run.services.{method_name}' denied on resource '{path}' (or it may not exist).",
                    )
                if method_name in self.exhausted:
                    raise ApiError(
                        429,
                        "RESOURCE_EXHAUSTED",
                        "Quota exceeded for quota metric 'Total CPU allocation' of service 'run.googleapis.com'.",
                    )
                return 200, handler(path.split(":", 1)[0], query, body)
        raise ApiError(404, "NOT_FOUND", f"no route {method} {path}")

    # -- services ---------------------------------------------------------------------------------------
    def _service(self, name: str) -> dict[str, Any]:
        if name not in self.services:
            raise ApiError(404, "NOT_FOUND", f"Resource '{name}' was not found")
        return self.services[name]

    def get_service(self, path: str, query: Any, body: Any) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self._service(path)))

    def create_service(self, path: str, query: dict[str, list[str]], body: dict[str, Any]) -> dict[str, Any]:
        service_id = (query.get("serviceId") or [""])[0]
        name = f"{path.removesuffix('/services')}/services/{service_id}"
        with self.lock:
            if name in self.services:
                raise ApiError(409, "ALREADY_EXISTS", f"Resource '{name}' already exists.")
            self._check_revision_name(body.get("template") or {})
            service = {**body, "name": name, "uid": str(uuid.uuid4()), "generation": "0", "traffic": []}
            self.services[name] = service
        return self._reconcile(name, body)

    def update_service(self, path: str, query: dict[str, list[str]], body: dict[str, Any]) -> dict[str, Any]:
        """UpdateService with its ``updateMask`` or without one (AIP-134's implied mask), as
        ``cloudrun_update.apply_update`` states it; a stale etag is 409 ABORTED."""
        mask = (query.get("updateMask") or [None])[0]
        with self.lock:
            current = self._service(path)
            if body.get("etag") and body["etag"] != current.get("etag"):
                raise ApiError(
                    409,
                    "ABORTED",
                    f"Resource '{path}' has been modified since it was read (etag {body['etag']} is stale; "
                    f"current {current.get('etag')}).",
                )
            try:
                updated, touched = apply_update(current, body, mask), written(body, mask)
            except MaskError as exc:
                raise ApiError(400, "INVALID_ARGUMENT", str(exc)) from exc
            if "template" in touched:
                self._check_revision_name(updated.get("template") or {})
            self.masks.append(mask)
            self.services[path] = updated
            if not touched & {"template", "traffic"}:  # metadata only: no new revision
                updated["etag"] = _etag()
                return self._operation(path, done=True, response=updated)
        change: dict[str, Any] = {"template": updated.get("template") or {}}
        if "traffic" in touched:
            change["traffic"] = (
                updated.get("traffic") or []
            )  # cleared: 100 % to the latest (the API's default)
        return self._reconcile(path, change)

    def _check_revision_name(self, template: dict[str, Any]) -> None:
        """A revision name is unique (run.v2's RevisionTemplate.revision: "The unique name for the
        revision"): a template naming an existing revision with another configuration is refused, 409, as
        Cloud Run does (observed and explained by Google's Cloud Run team in
        https://github.com/hashicorp/terraform-provider-google/issues/9438: "a revision by the name ...
        already exists, and with a different spec than the existing revision, and so this is indeed a
        409/conflict"; https://github.com/hashicorp/terraform-provider-google/issues/14569). The same
        configuration under its own name is that revision again, no new one."""
        existing = self.revisions.get(template.get("revision") or "")
        if existing is not None and existing.spec != _spec(template):
            raise ApiError(
                409,
                "ALREADY_EXISTS",
                f"Revision named '{existing.name}' with different configuration already exists.",
            )

    def delete_service(self, path: str, query: Any, body: Any) -> dict[str, Any]:
        with self.lock:
            service = self.services.pop(self._service(path)["name"])
        return self._operation(path, done=True, response=service)

    def _reconcile(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Start the template's revision if it is new, then apply the traffic once it is ready."""
        template = body.get("template") or {}
        revision_name = template.get("revision") or f"{name.rsplit('/', 1)[1]}-{uuid.uuid4().hex[:5]}"
        service_id = name.rsplit("/", 1)[1]
        if not revision_name.startswith(service_id + "-"):
            raise ApiError(
                400, "INVALID_ARGUMENT", f"Revision name must begin with the service name '{service_id}-'."
            )
        shares = [t.get("percent", 0) for t in body.get("traffic") or []]
        if shares and sum(shares) != 100:  # refused at once, as the API validates the request
            raise ApiError(
                400, "INVALID_ARGUMENT", f"traffic percentages must add up to 100, not {sum(shares)}"
            )
        containers = template.get("containers") or []
        if len(containers) != 1 or not containers[0].get("image"):
            raise ApiError(
                400, "INVALID_ARGUMENT", "template.containers: exactly one container with an image"
            )
        with self.lock:
            service = self.services[name]
            generation = str(int(service.get("generation", "0")) + 1)
            service.update({k: v for k, v in body.items() if k not in ("name", "uid", "traffic", "etag")})
            service.update(
                {
                    "generation": generation,
                    "etag": _etag(),  # a new version
                    "reconciling": True,
                    "latestCreatedRevision": f"{name}/revisions/{revision_name}",
                }
            )
            operation = self._operation(name, done=False, response=service)
        threading.Thread(
            target=self._deploy,
            args=(name, revision_name, template, body.get("traffic"), operation["name"], generation),
            daemon=True,
        ).start()
        return operation

    def _deploy(
        self,
        name: str,
        revision_name: str,
        template: dict[str, Any],
        traffic: list[dict[str, Any]] | None,
        op: str,
        generation: str = "",
    ) -> None:
        """Bring the revision up, then apply the traffic, unless a newer change (generation) came meanwhile:
        then this operation ends ABORTED and leaves the service to the newer one (Cloud Run reconciles the
        latest generation only)."""
        try:
            if revision_name not in self.revisions or not self.revisions[revision_name].ready:
                with self.lock:
                    failing, self.fail_readiness = self.fail_readiness > 0, max(0, self.fail_readiness - 1)
                if failing:
                    self._fail_revision(revision_name, template, name)
                self._start_revision(revision_name, template, name)
        except ApiError as exc:
            with self.lock:
                service = self.services[name]
                service["reconciling"] = False
                service["terminalCondition"] = {
                    "type": "Ready",
                    "state": "CONDITION_FAILED",
                    "message": exc.message,
                }
                self.operations[op].update(done=True, error={"code": 9, "message": exc.message})
            return
        with self.lock:
            service = self.services[name]
            if generation and service.get("generation") != generation:
                message = f"superseded by a newer change (generation {service.get('generation')})"
                self.operations[op].update(done=True, error={"code": 10, "message": message})
                return
            if traffic is not None:
                service["traffic"] = traffic or [
                    {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}
                ]
            elif not service.get("traffic"):
                service["traffic"] = [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}]
            service["latestReadyRevision"] = f"{name}/revisions/{revision_name}"
            self._status(service, revision_name)
            self.operations[op].update(done=True, response=self._typed(service))

    def _status(self, service: dict[str, Any], latest: str) -> None:
        statuses = []
        for target in service["traffic"]:
            kind = target.get("type", 0)
            kind = REVISION_TYPE.get(kind, kind) if isinstance(kind, int) else kind.rsplit("_", 1)[-1]
            revision = latest if kind == "LATEST" else target.get("revision", "")
            status = {
                "type": target.get("type", 0),
                "revision": revision,
                "percent": target.get("percent", 0),
            }
            if target.get("tag"):
                status.update(tag=target["tag"], uri=self.revisions[revision].url)
            statuses.append(status)
        total = sum(s["percent"] for s in statuses)
        if total != 100:
            raise ApiError(400, "INVALID_ARGUMENT", f"traffic percentages must add up to 100, not {total}")
        service.update(
            trafficStatuses=statuses,
            uri=self._router(service["name"]),
            reconciling=False,
            observedGeneration=service["generation"],
            terminalCondition={"type": "Ready", "state": "CONDITION_SUCCEEDED"},
        )

    def _router(self, name: str) -> str:
        """The service URL: requests go to its revisions by weight (created once per service)."""
        if name not in self.routers:
            fake, credit = self, {}

            class Router(BaseHTTPRequestHandler):
                def log_message(self, *args: Any) -> None:
                    pass

                def _pick(self) -> str:
                    with fake.lock:
                        shares = {s["revision"]: s["percent"] for s in fake.services[name]["trafficStatuses"]}
                        for revision, percent in shares.items():
                            credit[revision] = credit.get(revision, 0) + percent
                        chosen = max((r for r in shares if shares[r]), key=lambda r: credit[r])
                        credit[chosen] -= sum(shares.values())
                    return chosen

                def _forward(self) -> None:
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    with fake.lock:
                        admitted = fake.admitted(name)
                    if not admitted:  # refused before any revision sees it, as Cloud Run's front end does
                        data = b"<html><title>403 Forbidden</title>Access is forbidden.</html>"
                        self.send_response(403)
                        self.send_header("Content-Type", "text/html; charset=UTF-8")
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                        return
                    target = urlsplit(fake.revisions[self._pick()].url)
                    headers = {
                        k: v
                        for k, v in self.headers.items()
                        if k.lower() not in ("host", "connection", "x-forwarded-for")
                    }
                    headers["X-Forwarded-For"] = fake.forwarded_for(
                        self.headers.get("X-Forwarded-For"), self.client_address[0]
                    )
                    upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                    try:
                        upstream.request(self.command, self.path, body=body or None, headers=headers)
                        answer = upstream.getresponse()
                        data = answer.read()
                    finally:
                        upstream.close()
                    self.send_response(answer.status)
                    for key, value in answer.getheaders():
                        if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

                do_GET = do_POST = _forward

            server = ThreadingHTTPServer(("127.0.0.1", free_port()), Router)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.routers[name] = server
        return f"http://127.0.0.1:{self.routers[name].server_address[1]}"

    def _fail_revision(self, revision_name: str, template: dict[str, Any], service: str) -> None:
        """The revision as one whose container never answers its startup probe: recorded, not ready, and
        the operation's error is Cloud Run's for it; the traffic stays as it was."""
        self.revisions[revision_name] = Revision(
            revision_name, template["containers"][0]["image"], service=service, spec=_spec(template)
        )
        raise ApiError(
            400,
            "FAILED_PRECONDITION",
            f"Revision '{revision_name}' is not ready and cannot serve traffic. The user-provided container "
            f"failed the configured startup probe checks.",
        )

    def _start_revision(self, revision_name: str, template: dict[str, Any], service: str = "") -> None:
        from docker.errors import APIError, ImageNotFound

        container_spec = template["containers"][0]
        image = container_spec["image"]
        port = (container_spec.get("ports") or [{}])[0].get("containerPort", 8080)
        env = {"PORT": str(port), "K_REVISION": revision_name}
        for var in container_spec.get("env") or []:
            if "valueSource" in var:
                ref = var["valueSource"]["secretKeyRef"]
                if ref["secret"] not in self.secrets:
                    raise ApiError(
                        400,
                        "FAILED_PRECONDITION",
                        f"Secret {ref['secret']}/versions/{ref.get('version')} was not found",
                    )
                env[var["name"]] = self.secrets[ref["secret"]]
            else:
                env[var["name"]] = var.get("value", "")
        try:
            self.docker.images.pull(image)
        except (APIError, ImageNotFound) as exc:
            raise ApiError(
                400,
                "FAILED_PRECONDITION",
                f"Image '{image}' not found. {getattr(exc, 'explanation', '') or exc}",
            ) from exc
        host_port = free_port()
        try:
            container = self.docker.containers.run(
                image,
                detach=True,
                environment=env,
                labels={FAKE_LABEL: revision_name, INSTANCE_LABEL: self.instance},
                ports={f"{port}/tcp": ("127.0.0.1", host_port)},
            )
        except APIError as exc:
            raise ApiError(
                400, "FAILED_PRECONDITION", f"Revision '{revision_name}' could not start: {exc}"
            ) from exc
        revision = Revision(
            revision_name,
            image,
            container,
            f"http://127.0.0.1:{host_port}",
            service=service,
            spec=_spec(template),
        )
        self.revisions[revision_name] = revision
        probe = (container_spec.get("startupProbe") or {}).get("httpGet", {}).get("path", "/")
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(revision.url + probe, timeout=2) as response:
                    if response.status == 200:
                        revision.ready = True
                        return
            except (urllib.error.URLError, OSError):
                pass
            container.reload()
            if container.status == "exited":
                break
            time.sleep(0.3)
        raise ApiError(
            400,
            "FAILED_PRECONDITION",
            f"Revision '{revision_name}' is not ready and cannot serve traffic. The user-provided container "
            f"failed the configured startup probe checks.",
        )

    # -- Cloud Logging ----------------------------------------------------------------------------------
    def _log_entries(self) -> list[dict[str, Any]]:
        """Every revision container's output as Cloud Run ships it to Cloud Logging."""
        entries = []
        for revision in list(self.revisions.values()):
            if revision.container is None:
                continue
            match = re.fullmatch(SERVICE, revision.service)
            if match is None:
                continue
            try:
                text = revision.container.logs(timestamps=True).decode(errors="replace")
            except Exception:  # removed meanwhile: its logs went with it
                continue
            for index, line in enumerate(text.splitlines()):
                stamp, _, payload = line.partition(" ")
                entry: dict[str, Any] = {
                    "logName": f"projects/{match['project']}/logs/run.googleapis.com%2Fstdout",
                    "resource": {
                        "type": "cloud_run_revision",
                        "labels": {
                            "project_id": match["project"],
                            "location": match["location"],
                            "service_name": match["service"],
                            "revision_name": revision.name,
                            "configuration_name": match["service"],
                        },
                    },
                    "timestamp": stamp,
                    "receiveTimestamp": stamp,
                    "insertId": f"{revision.name}-{index}",
                    "severity": "DEFAULT",
                }
                try:
                    data = json.loads(payload)
                except ValueError:
                    data = None
                if isinstance(data, dict):
                    entry["jsonPayload"] = data
                else:
                    entry["textPayload"] = payload
                entries.append(entry)
        return entries

    def list_entries(self, path: str, query: Any, body: dict[str, Any]) -> dict[str, Any]:
        clauses = parse_filter(body.get("filter", ""))
        projects = {
            name.split("/", 1)[1] for name in body.get("resourceNames", []) if name.startswith("projects/")
        }

        def admitted(entry: dict[str, Any]) -> bool:
            if projects and entry["resource"]["labels"]["project_id"] not in projects:
                return False
            for field_name, operator, values in clauses:
                value = _field(entry, field_name)
                if operator == "=" and str(value) not in values:
                    return False
                if operator == ">=" and (value is None or rfc3339(str(value)) < rfc3339(min(values))):
                    return False
            return True

        found = sorted(
            (e for e in self._log_entries() if admitted(e)),
            key=lambda e: e["timestamp"],
            reverse="desc" in body.get("orderBy", "").lower(),
        )
        start = int(body.get("pageToken") or 0)
        size = int(body.get("pageSize") or 1000)
        page = found[start : start + size]
        answer: dict[str, Any] = {"entries": page}
        if start + size < len(found):
            answer["nextPageToken"] = str(start + size)
        return answer

    # -- operations -------------------------------------------------------------------------------------
    def _operation(self, resource: str, done: bool, response: dict[str, Any]) -> dict[str, Any]:
        location = resource.split("/services/")[0]
        operation = {
            "name": f"{location}/operations/{uuid.uuid4()}",
            "metadata": self._typed(response),
            "done": done,
        }
        if done:
            operation["response"] = self._typed(response)
        self.operations[operation["name"]] = operation
        return operation

    @staticmethod
    def _typed(service: dict[str, Any]) -> dict[str, Any]:
        return {"@type": "type.googleapis.com/google.cloud.run.v2.Service", **json.loads(json.dumps(service))}

    def get_operation(self, path: str, query: Any, body: Any) -> dict[str, Any]:
        with self.lock:
            if path not in self.operations:
                raise ApiError(404, "NOT_FOUND", f"Operation '{path}' was not found")
            return json.loads(json.dumps(self.operations[path]))

    # -- IAM --------------------------------------------------------------------------------------------
    def get_iam_policy(self, path: str, query: Any, body: Any) -> dict[str, Any]:
        with self.lock:
            self._service(path)
            return self.policies.get(path, {"version": 1, "etag": "BwAAAA=="})

    def set_iam_policy(self, path: str, query: Any, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._service(path)
            current = self.policies.get(path, {"etag": "BwAAAA=="})
            policy = body.get("policy", {})
            if policy.get("etag") and policy["etag"] != current["etag"]:
                raise ApiError(409, "ABORTED", "There were concurrent policy changes.")
            policy = {**policy, "version": 1, "etag": base64.b64encode(uuid.uuid4().bytes[:6]).decode()}
            self.policies[path] = policy
            return policy

    def public(self, service: str) -> bool:
        """Whether allUsers may invoke ``service`` (its full name)."""
        bindings = self.policies.get(service, {}).get("bindings", [])
        return any(b["role"] == "roles/run.invoker" and "allUsers" in b.get("members", []) for b in bindings)

    def traffic(self, service: str) -> dict[str, int]:
        """revision -> percent, as the service reports it."""
        return {
            s["revision"]: s["percent"]
            for s in self.services[service].get("trafficStatuses", [])
            if s["percent"]
        }
