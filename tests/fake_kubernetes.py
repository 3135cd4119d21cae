"""A read-only fake of a Kubernetes API server for the real ``kubectl``: legacy discovery (/api, /apis and the
group versions' resource lists) and GET of the Deployments and Services it holds, as JSON objects of the
real shape. Enough for ``kubectl get deployment/NAME -o json`` and ``kubectl get service/NAME -o json``,
and for ``kubectl logs -l SELECTOR``: pods listed by label selector and each pod's log (``timestamps``,
``tailLines`` and ``sinceTime`` honoured). Anything else is a 404 Status, as a real API server answers."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from nfldeploy.service_logs import rfc3339
from services import free_port

RESOURCES = {
    "/api/v1": ("v1", [("services", "service", "Service", ["svc"]), ("pods", "pod", "Pod", ["po"])]),
    "/apis/apps/v1": ("apps/v1", [("deployments", "deployment", "Deployment", ["deploy"])]),
}


@dataclass
class FakeKubernetes:
    """Objects by path (e.g. ``/apis/apps/v1/namespaces/default/deployments/api``)."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # pod -> (RFC 3339 time, line)
    server: ThreadingHTTPServer | None = None

    def add_pod(self, name: str, labels: dict[str, str], lines: list[tuple[str, str]]) -> None:
        """A running pod with one container ``api`` that wrote ``lines``."""
        self.objects[f"/api/v1/namespaces/default/pods/{name}"] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"containers": [{"name": "api", "image": "api"}]},
            "status": {"phase": "Running"},
        }
        self.logs[name] = lines

    def _pods(self, query: dict[str, list[str]]) -> dict[str, Any]:
        wanted = dict(
            pair.split("=", 1) for pair in (query.get("labelSelector") or [""])[0].split(",") if "=" in pair
        )
        items = [
            body
            for path, body in self.objects.items()
            if body["kind"] == "Pod" and wanted.items() <= body["metadata"].get("labels", {}).items()
        ]
        return {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}

    def _log(self, pod: str, query: dict[str, list[str]]) -> str:
        lines = self.logs.get(pod, [])
        since = (query.get("sinceTime") or [""])[0]
        if since:
            lines = [(t, line) for t, line in lines if rfc3339(t) >= rfc3339(since)]
        tail = int((query.get("tailLines") or ["-1"])[0])
        if tail >= 0:
            lines = lines[-tail:] if tail else []
        stamped = (query.get("timestamps") or ["false"])[0] == "true"
        return "".join(f"{t} {line}\n" if stamped else f"{line}\n" for t, line in lines)

    def add(self, kind: str, name: str, body: dict[str, Any]) -> None:
        base = "/apis/apps/v1" if kind == "Deployment" else "/api/v1"
        plural = "deployments" if kind == "Deployment" else "services"
        api_version = "apps/v1" if kind == "Deployment" else "v1"
        metadata = {"name": name, "namespace": "default", **body.pop("metadata", {})}
        self.objects[f"{base}/namespaces/default/{plural}/{name}"] = {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": metadata,
            **body,
        }

    def _answer(self, path: str) -> tuple[int, dict[str, Any]]:
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            version = {"groupVersion": "apps/v1", "version": "v1"}
            group = {"name": "apps", "versions": [version], "preferredVersion": version}
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]}
        if path in RESOURCES:
            group_version, resources = RESOURCES[path]
            listed = [
                {
                    "name": n,
                    "singularName": s,
                    "namespaced": True,
                    "kind": k,
                    "verbs": ["get", "list"],
                    "shortNames": sn,
                }
                for n, s, k, sn in resources
            ]
            return 200, {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": group_version,
                "resources": listed,
            }
        if path in self.objects:
            return 200, self.objects[path]
        name = path.rsplit("/", 1)[-1]
        return 404, {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": f'"{name}" not found',
            "reason": "NotFound",
            "code": 404,
        }

    def start(self) -> FakeKubernetes:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path, _, raw = self.path.partition("?")
                query = parse_qs(raw)
                kind = "application/json"
                if path == "/api/v1/namespaces/default/pods":
                    status, data = 200, json.dumps(fake._pods(query)).encode()
                elif path.startswith("/api/v1/namespaces/default/pods/") and path.endswith("/log"):
                    pod = path.split("/")[-2]
                    status, data, kind = 200, fake._log(pod, query).encode(), "text/plain"
                else:
                    answer, body = fake._answer(path)
                    status, data = answer, json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def kubeconfig(self, path: Path, context: str = "fake") -> Path:
        """A kubeconfig whose ``context`` points kubectl at this server."""
        assert self.server is not None
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"current-context: {context}\n"
            f"clusters:\n- name: {context}\n  cluster:\n    server: http://127.0.0.1:{self.server.server_address[1]}\n"
            f"contexts:\n- name: {context}\n  context:\n    cluster: {context}\n    user: u\n"
            "users:\n- name: u\n  user: {}\n"
        )
        return path
