"""Kubernetes target: the rendered Deployment, Service, HorizontalPodAutoscaler and NetworkPolicy, applied with
``kubectl`` when a kube context is configured, otherwise only rendered (and the plan says so).

With a context, the plan asks ``kubectl diff`` what would change (an empty plan when nothing would), apply
runs ``kubectl apply`` then ``kubectl rollout status``; the Deployment rolls with ``maxUnavailable: 0``, so a
new ReplicaSet that never gets ready leaves the previous pods serving. ``rollback`` is ``kubectl rollout
undo``. The API keys come from the Secret the manifests reference by name; its value is never handled here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from nfldeploy.errors import ConfigError, DeployError
from nfldeploy.records.manifest import Manifest
from nfldeploy.render.files import render_group
from nfldeploy.render.views import Inputs
from nfldeploy.service_logs import LogEntry, LogQuery, admitted, parse_stamped, select
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.base import Action, Deployment, Plan, PlanSpec, Revision, Status

MANIFEST = "kubernetes/deployment.yaml"


def current_context(kubectl: str = "kubectl") -> str | None:
    """kubectl's current context, or None (kubectl missing or no context configured)."""
    if shutil.which(kubectl) is None:
        return None
    done = subprocess.run([kubectl, "config", "current-context"], capture_output=True, text=True)
    return (done.stdout.strip() or None) if done.returncode == 0 else None


@dataclass(frozen=True)
class KubernetesSpec(PlanSpec):
    """The rendered manifest, where it is written, and the kube context it is applied to (None: render only)."""

    manifest: str
    path: str
    context: str | None


def _kubectl_lines(lines: Iterable[str]) -> Iterator[LogEntry]:
    """Entries from ``kubectl logs --prefix --timestamps`` (``[pod/NAME/CONTAINER] TIME LINE``)."""
    for line in lines:
        prefix, _, rest = line.partition("] ")
        if not prefix.startswith("[pod/"):
            continue
        entry = parse_stamped(rest, prefix.removeprefix("[pod/").split("/", 1)[0])
        if entry is not None:
            yield entry


class KubernetesTarget:
    """The service as a Deployment in the cluster of ``context`` (default: kubectl's current context)."""

    name = "kubernetes"

    def __init__(
        self,
        export_manifest: Manifest | None,
        out: Path,
        service: str,
        *,
        context: str | None = None,
        kubectl: str = "kubectl",
        wait: bool = True,
        timeout: int = 300,
    ) -> None:
        self.export_manifest, self.out, self.service = export_manifest, out, service
        self.kubectl, self.wait, self.timeout = kubectl, wait, timeout
        self.context = context if context is not None else current_context(kubectl)

    def _run(
        self, *args: str, stdin: str | None = None, ok: tuple[int, ...] = (0,)
    ) -> subprocess.CompletedProcess[str]:
        if shutil.which(self.kubectl) is None:
            raise DeployError(
                f"{self.kubectl} is not installed", hint="Install kubectl, or deploy without a kube context."
            )
        command = [self.kubectl, "--context", str(self.context), *args]
        try:
            done = subprocess.run(
                command, input=stdin, capture_output=True, text=True, timeout=self.timeout + 30
            )
        except subprocess.TimeoutExpired as exc:
            raise DeployError(f"kubectl {args[0]} for {self.service} timed out") from exc
        if done.returncode not in ok:
            message = (done.stderr or done.stdout).strip().splitlines()
            raise DeployError(
                f"kubectl {' '.join(args[:2])} for {self.service} on context {self.context} failed: "
                + (message[-1] if message else f"exit {done.returncode}")
            )
        return done

    # -- the protocol ----------------------------------------------------------------------------------
    def plan(self, settings: DeploySettings, image: str, canary: int | None = None) -> Plan:
        if canary is not None:
            raise DeployError("the kubernetes target has no canary; deploy without --canary")
        if self.export_manifest is None:
            raise ConfigError(
                "the kubernetes target renders its manifests from an export, and there is none here",
                hint="Run nfldeploy export, or pass --export-dir.",
            )
        text = render_group(Inputs(settings, self.export_manifest, image, ""), "kubernetes")[MANIFEST]
        path = self.out / MANIFEST
        spec = KubernetesSpec(text, str(path), self.context)
        actions = []
        if self.context is None:
            if not path.is_file() or path.read_text() != text:
                actions.append(Action("render", str(path), "no kube context configured: render only"))
        else:
            diff = self._run("diff", "-f", "-", stdin=text, ok=(0, 1))
            if diff.returncode == 1:
                changed = sum(1 for line in diff.stdout.splitlines() if line.startswith(("+ ", "- ")))
                actions += [
                    Action(
                        "render", str(path), "Deployment, Service, HorizontalPodAutoscaler, NetworkPolicy"
                    ),
                    Action("apply", f"context {self.context}", f"{changed} changed lines (kubectl diff)"),
                    Action("rollout", f"deployment/{self.service}", "wait until the new pods are ready"),
                ]
        return Plan(self.name, self.service, image, tuple(actions), spec)

    def apply(self, plan: Plan) -> Deployment:
        spec = plan.spec_as(KubernetesSpec)
        path = Path(spec.path)
        if not plan.empty:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(spec.manifest)
        if self.context is None:
            return Deployment(
                self.name, self.service, "", f"rendered {path}", plan.image, {}, None, not plan.empty
            )
        if not plan.empty:
            self._run("apply", "-f", str(path))
            if self.wait:
                try:
                    self._run("rollout", "status", f"deployment/{self.service}", f"--timeout={self.timeout}s")
                except DeployError as exc:
                    raise DeployError(
                        f"{exc.message}; the rolling update keeps the previous pods serving (maxUnavailable 0)",
                        hint="nfldeploy rollback --target kubernetes returns the Deployment to its previous revision.",
                    ) from exc
        state = self.status()
        return Deployment(
            self.name,
            self.service,
            state.url or "",
            str(state.serving),
            plan.image,
            state.traffic,
            None,
            not plan.empty,
        )

    def plan_promote(self) -> Plan:
        raise DeployError("the kubernetes target has no canary to promote: a rollout replaces the pods")

    def status(self) -> Status:
        if self.context is None:
            return Status(
                self.name, self.service, None, None, {}, [], context=None, note="no kube context: render only"
            )
        found = json.loads(self._run("get", f"deployment/{self.service}", "-o", "json").stdout)
        revision = found["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", "?")
        image = found["spec"]["template"]["spec"]["containers"][0]["image"]
        ready = found.get("status", {}).get("readyReplicas", 0)
        name = f"{self.service}-rev{revision}"
        url, reach = self._reach()
        return Status(
            self.name,
            self.service,
            url,
            name,
            {name: 100},
            [Revision(name, f"{ready} ready", image, revision)],
            context=self.context,
            reach=reach,
        )

    def _reach(self) -> tuple[str | None, str]:
        """The Service's external address when it has one (a LoadBalancer's ingress), and how to reach it
        from this machine either way (the port-forward line)."""
        service = json.loads(self._run("get", f"service/{self.service}", "-o", "json").stdout)
        ports: list[dict[str, Any]] = service.get("spec", {}).get("ports", [])
        port = ports[0].get("port", 80) if ports else 80
        ingress = service.get("status", {}).get("loadBalancer", {}).get("ingress") or []
        host = next((entry.get("ip") or entry.get("hostname") for entry in ingress), None)
        url = f"http://{host}" + ("" if port == 80 else f":{port}") if host else None
        forward = f"kubectl --context {self.context} port-forward service/{self.service} 8080:{port}"
        return url, (f"{url} (LoadBalancer)" if url else f"{forward}, then http://127.0.0.1:8080")

    # -- logs ------------------------------------------------------------------------------------------
    def logs(self, query: LogQuery) -> Iterator[LogEntry]:
        """``kubectl logs`` of the Deployment's pods (each pod is a revision in the rows)."""
        if self.context is None:
            raise DeployError("no kube context configured: nothing was applied, so there are no logs")
        args = ["logs", "-l", f"app.kubernetes.io/name={self.service}", "--prefix", "--timestamps"]
        tail = -1 if query.request_id or query.level else query.limit  # filters need every line
        args += ["--all-containers", f"--tail={tail}", "--max-log-requests=20"]
        if query.since is not None:
            args.append(f"--since-time={query.since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}")
        if not query.follow:
            return iter(select(_kubectl_lines(self._run(*args).stdout.splitlines()), query))
        process = subprocess.Popen(
            [self.kubectl, "--context", str(self.context), *args, "--follow"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        return admitted(_kubectl_lines(process.stdout), query)

    def rollback(self) -> Deployment:
        if self.context is None:
            raise DeployError("no kube context configured: nothing was applied, so nothing to roll back")
        self._run("rollout", "undo", f"deployment/{self.service}")
        if self.wait:
            self._run("rollout", "status", f"deployment/{self.service}", f"--timeout={self.timeout}s")
        state = self.status()
        return Deployment(self.name, self.service, state.url or "", str(state.serving), "", state.traffic)
