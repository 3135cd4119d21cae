"""The local target: the image on the local Docker engine, with the limits it would get in the cloud.

Revisions are containers labelled with the service; the serving one publishes the service's port. A new
revision is first started on a spare port and must turn ready before the serving one is replaced; the
replaced revision is kept stopped, so ``rollback`` can serve it again. The service's API keys come from an
env file outside the image (the ``api_keys_secret`` setting names the file; only the path is ever shown).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nfldeploy.errors import ConfigError, DeployError, NfldeployError
from nfldeploy.service_logs import LogEntry, LogQuery, admitted, parse_stamped, select
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.base import Action, Deployment, Plan, PlanSpec, Revision, Status

if TYPE_CHECKING:
    from nfldeploy.image.engine import DockerClient

SERVICE_LABEL = "io.nfldeploy.service"
REVISION_LABEL = "io.nfldeploy.revision"
SPEC_LABEL = "io.nfldeploy.spec"
KEEP_STOPPED = 1  # previous revisions kept for rollback


@dataclass(frozen=True)
class LocalSpec(PlanSpec):
    """The container a local plan starts: its limits, env references (an env file's path, never its
    keys), revision number and name, and the digest of the wanted state its label records."""

    image_id: str
    cpus: float
    memory_mib: int
    memory: str
    port: int
    env: dict[str, str]
    digest: str
    revision: int
    name: str


def _read_env_file(path: str) -> dict[str, str]:
    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"the API keys env file {path} does not exist", hint="Create it with NFLSERVE_API_KEYS=..."
        )
    values = {}
    for line in file.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.strip().startswith("#"):
            values[key.strip()] = value.strip()
    return values


def _docker_lines(chunks: Iterable[bytes | str], revision: str) -> Iterator[LogEntry]:
    """Entries from ``docker logs --timestamps`` output (``2026-11-28T10:00:00.123456789Z <line>``), given
    as lines or as the stream's chunks (a line may span chunks)."""
    pending = ""
    for chunk in chunks:
        pending += chunk.decode(errors="replace") if isinstance(chunk, bytes) else chunk + "\n"
        *lines, pending = pending.split("\n")
        for line in lines:
            entry = parse_stamped(line, revision)
            if entry is not None:
                yield entry


class LocalTarget:
    """Deploys to the engine ``client`` talks to, publishing on 127.0.0.1:``port``."""

    name = "local"

    def __init__(self, client: DockerClient, service: str, port: int = 8080) -> None:
        self.client, self.service, self.port = client, service, port

    # -- state ---------------------------------------------------------------------------------------
    def _revisions(self) -> list[Any]:
        # ignore_removed: a container another process removes between the listing and its inspection is
        # skipped, not an error
        found = self.client.containers.list(
            all=True, ignore_removed=True, filters={"label": f"{SERVICE_LABEL}={self.service}"}
        )
        return sorted(found, key=lambda c: int(c.labels.get(REVISION_LABEL, "0")))

    def _serving(self) -> Any | None:
        running = [c for c in self._revisions() if c.status == "running"]
        return running[-1] if running else None

    def _spec(self, settings: DeploySettings, image_id: str) -> dict[str, Any]:
        return {
            "image_id": image_id,
            "cpus": settings.cpu,
            "memory_mib": settings.memory_mib,
            "port": self.port,
            "env": self._env_refs(settings),
        }

    @staticmethod
    def _env_refs(settings: DeploySettings) -> dict[str, str]:
        refs = settings.service_env()
        if settings.auth:
            if not settings.api_keys_secret:
                raise ConfigError(
                    "auth is on but api_keys_secret (the local env file with NFLSERVE_API_KEYS) is not set"
                )
            refs["env_file"] = settings.api_keys_secret
        return refs

    # -- the protocol ----------------------------------------------------------------------------------
    def plan(self, settings: DeploySettings, image: str, canary: int | None = None) -> Plan:
        from nfldeploy.image.engine import find_image_id

        if canary is not None:
            raise ConfigError("the local target has no canary: a revision replaces the serving one whole")
        image_id = find_image_id(self.client, image)
        if image_id is None:
            raise DeployError(f"no image {image} on the local engine", hint="Run nfldeploy build first.")
        wanted = self._spec(settings, image_id)
        digest = hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()[:16]
        serving = self._serving()
        if serving is not None and serving.labels.get(SPEC_LABEL) == digest:
            return Plan(self.name, self.service, image)
        revisions = self._revisions()
        revision = int(revisions[-1].labels.get(REVISION_LABEL, "0")) + 1 if revisions else 1
        name = f"nfldeploy-{self.service}-r{revision}"
        actions = []
        if "env_file" in wanted["env"]:
            actions.append(
                Action(
                    "env_file",
                    wanted["env"]["env_file"],
                    "API keys read from this file at start (never shown)",
                )
            )
        actions += [
            Action(
                "start",
                f"{name}-verify",
                f"{image} ({image_id[7:19]}) on a spare port, cpus {settings.cpu:g}, memory {settings.memory}",
            ),
            Action("wait_ready", f"{name}-verify", "/ready must answer 200 before anything is replaced"),
        ]
        if serving is not None:
            actions.append(Action("stop", serving.name, "kept stopped for rollback"))
        actions += [
            Action("start", name, f"on 127.0.0.1:{self.port}"),
            Action("wait_ready", name, f"http://127.0.0.1:{self.port}/ready"),
        ]
        stopped = [c for c in revisions if c.status != "running"]
        actions += (
            [
                Action("remove", c.name, "older than the kept previous revision")
                for c in stopped[: len(stopped) - KEEP_STOPPED + 1]
            ]
            if serving is not None
            else []
        )
        spec = LocalSpec(**wanted, digest=digest, revision=revision, name=name, memory=settings.memory)
        return Plan(self.name, self.service, image, tuple(actions), spec)

    def _run(self, plan: Plan, port: int, name: str) -> tuple[Any, str]:
        from nfldeploy.image.run import start

        spec = plan.spec_as(LocalSpec)
        env = {k: v for k, v in spec.env.items() if k != "env_file"}
        if "env_file" in spec.env:
            env.update(_read_env_file(spec.env["env_file"]))
        labels = {SERVICE_LABEL: self.service, REVISION_LABEL: str(spec.revision), SPEC_LABEL: spec.digest}
        return start(
            self.client,
            plan.image,
            port=port,
            env=env,
            name=name,
            cpus=spec.cpus,
            memory_mib=spec.memory_mib,
            labels=labels,
        )

    def apply(self, plan: Plan) -> Deployment:
        from nfldeploy.image.run import remove, wait_ready
        from nfldeploy.ports import free_port

        serving = self._serving()
        if plan.empty:
            if serving is None:
                raise DeployError(f"nothing serves {self.service} and the plan is empty; plan again")
            return self._deployment(serving, None, changed=False)
        name = plan.spec_as(LocalSpec).name
        # 1. the new revision must get ready on a spare port while the old one keeps serving
        trial, trial_url = self._run(plan, free_port(), f"{name}-verify")
        try:
            wait_ready(trial_url, trial)
        except NfldeployError as exc:
            where = f"; {serving.name} keeps serving (100 %)" if serving is not None else ""
            raise DeployError(
                f"the new revision never got ready, nothing was replaced{where}: {exc.message}"
            ) from exc
        finally:
            remove(trial)
        # 2. swap: stop the old one (kept for rollback), start the new one on the service port
        if serving is not None:
            serving.stop(timeout=10)
        try:
            container, url = self._run(plan, self.port, name)
            wait_ready(url, container)
        except NfldeployError as exc:
            for failed in self.client.containers.list(all=True, ignore_removed=True, filters={"name": name}):
                remove(failed)
            if serving is not None:
                serving.start()
                raise DeployError(
                    f"{name} failed on the service port; {serving.name} serves again (100 %): {exc.message}"
                ) from exc
            raise
        for action in plan.actions:
            if action.kind == "remove":
                for old in self.client.containers.list(
                    all=True, ignore_removed=True, filters={"name": action.subject}
                ):
                    remove(old)
        return self._deployment(container, serving)

    def _deployment(self, container: Any, previous: Any | None, changed: bool = True) -> Deployment:
        container.reload()
        return Deployment(
            self.name,
            self.service,
            f"http://127.0.0.1:{self.port}",
            container.name,
            container.image.tags[0] if container.image.tags else container.image.id,
            {container.name: 100},
            previous.name if previous is not None and previous.id != container.id else None,
            changed,
        )

    def status(self) -> Status:
        revisions = [
            Revision(
                c.name,
                c.status,
                c.image.tags[0] if c.image.tags else c.image.id,
                int(c.labels.get(REVISION_LABEL, "0")),
            )
            for c in self._revisions()
        ]
        serving = self._serving()
        return Status(
            self.name,
            self.service,
            f"http://127.0.0.1:{self.port}" if serving else None,
            serving.name if serving else None,
            {serving.name: 100} if serving else {},
            revisions,
        )

    def plan_promote(self) -> Plan:
        raise ConfigError(
            "the local target has no canary to promote: a revision replaces the serving one whole"
        )

    # -- logs ------------------------------------------------------------------------------------------
    def logs(self, query: LogQuery) -> Iterator[LogEntry]:
        """Every revision's container log (the serving one's alone with ``follow``), from the engine."""
        since = int(query.since.timestamp()) if query.since else None
        tail: int | str = "all" if query.request_id or query.level else query.limit  # filters need every line
        if query.follow:
            serving = self._serving()
            if serving is None:
                raise DeployError(f"nothing serves {self.service} on the local engine to follow")
            stream = serving.logs(stream=True, follow=True, timestamps=True, since=since, tail=tail)
            return admitted(_docker_lines(stream, serving.name), query)
        entries: list[LogEntry] = []
        for container in self._revisions():
            text = container.logs(timestamps=True, since=since, tail=tail).decode(errors="replace")
            entries += _docker_lines(text.splitlines(), container.name)
        return iter(select(entries, query))

    def rollback(self) -> Deployment:
        from nfldeploy.image.run import wait_ready

        serving = self._serving()
        stopped = [
            c for c in self._revisions() if c.status != "running" and (serving is None or c.id != serving.id)
        ]
        if not stopped:
            raise DeployError(f"no previous revision of {self.service} to roll back to")
        previous = stopped[-1]
        if serving is not None:
            serving.stop(timeout=10)
        previous.start()
        try:
            wait_ready(f"http://127.0.0.1:{self.port}", previous)
        except NfldeployError as exc:
            if serving is not None:
                previous.stop(timeout=10)
                serving.start()
            raise DeployError(
                f"the previous revision {previous.name} did not get ready; {serving.name if serving else 'nothing'} serves: {exc.message}"
            ) from exc
        return self._deployment(previous, serving)
