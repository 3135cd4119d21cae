"""Google Cloud Run target: the only module that imports google-cloud-run.

A deploy creates or updates the service through the Admin API v2 (``run_v2.ServicesClient``) and waits on the
long-running operation. Revision names are derived from the image digest and the rest of the revision's
spec, so the same image and settings give the same revision and an empty plan. Traffic always names
revisions, so a revision that fails to get ready never takes traffic: the previous one keeps its share.
A canary comes up with no traffic under the tag ``canary``, is checked through the tag URL, and only then gets
its percentage; ``promote`` gives it 100 %, ``rollback`` gives 100 % back to the revision that served before.
The API keys reach the service as a Secret Manager reference (``secretKeyRef``), never as a value.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nfldeploy.errors import ConfigError, DeployError, NfldeployError
from nfldeploy.render.cloudrun_spec import revision_template, service_view
from nfldeploy.render.limits import check_cloudrun
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.base import Action, Deployment, Plan

ENDPOINT_ENV = (
    "NFLDEPLOY_CLOUDRUN_ENDPOINT"  # e.g. a local fake of the Admin API; default: run.googleapis.com
)
CANARY_TAG = "canary"
PREVIOUS_ANNOTATION = "nfldeploy.io/previous-revision"
REVISION = 2  # TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
INVOKER = "roles/run.invoker"
OPERATION_TIMEOUT = 600.0


def credential_source() -> str | None:
    """Where Application Default Credentials would come from, without contacting any server.

    Returns the credentials file's path (never its contents), or None when no file is configured.
    """
    explicit = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if explicit:
        if not Path(explicit).is_file():
            raise ConfigError(f"GOOGLE_APPLICATION_CREDENTIALS points at a missing file: {explicit}")
        return f"GOOGLE_APPLICATION_CREDENTIALS={explicit}"
    config_dir = Path(os.environ.get("CLOUDSDK_CONFIG", Path.home() / ".config" / "gcloud"))
    well_known = config_dir / "application_default_credentials.json"
    return str(well_known) if well_known.is_file() else None


def artifact_registry_login() -> dict[str, str]:
    """Registry credentials for Artifact Registry / gcr.io: ``oauth2accesstoken`` and an access token from
    Application Default Credentials. Never written anywhere: handed to the push only."""
    import google.auth
    import google.auth.exceptions
    import google.auth.transport.requests

    from nfldeploy.errors import PushError

    try:
        credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        credentials.refresh(google.auth.transport.requests.Request())  # type: ignore[no-untyped-call]
    except google.auth.exceptions.GoogleAuthError as exc:
        raise PushError(
            f"cannot get a Google access token: {exc}",
            hint="Run 'gcloud auth application-default login' or set GOOGLE_APPLICATION_CREDENTIALS.",
        ) from exc
    return {"username": "oauth2accesstoken", "password": str(credentials.token)}


def services_client(endpoint: str | None = None) -> Any:
    """A ``run_v2.ServicesClient`` over REST. Credentials: Application Default Credentials, or none for a
    plain-http endpoint (a local fake of the API), taken from ``endpoint`` or $NFLDEPLOY_CLOUDRUN_ENDPOINT."""
    import google.auth.exceptions
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import run_v2

    endpoint = endpoint or os.environ.get(ENDPOINT_ENV)
    options = ClientOptions(api_endpoint=endpoint) if endpoint else None
    credentials = AnonymousCredentials() if endpoint and endpoint.startswith("http://") else None  # type: ignore[no-untyped-call]
    try:
        return run_v2.ServicesClient(transport="rest", credentials=credentials, client_options=options)
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise DeployError(
            f"no Google credentials: {exc}",
            hint="Run 'gcloud auth application-default login', set GOOGLE_APPLICATION_CREDENTIALS, "
            "or use workload identity federation in CI.",
        ) from exc


def resolve_in_registry(image: str) -> str:
    """The digest ``image``'s registry serves for its tag, with the push credentials for that registry."""
    from nfldeploy.image.push import registry_auth
    from nfldeploy.image.registry import resolve_digest

    return resolve_digest(image, registry_auth("auto", image, "us-east-1"))


class CloudRunTarget:
    """One Cloud Run service, through an injected ``run_v2.ServicesClient``."""

    name = "cloudrun"

    def __init__(
        self,
        client: Any,
        project: str | None,
        region: str,
        service: str,
        *,
        manifest: dict[str, Any] | None = None,
        verify: Callable[[str], None] | None = None,
        wait: bool = True,
        timeout: float = OPERATION_TIMEOUT,
        resolve: Callable[[str], str] | None = None,
    ) -> None:
        if not project:
            raise ConfigError("Cloud Run needs a Google Cloud project", hint="Set project in nfldeploy.toml.")
        self.client, self.project, self.region, self.service = client, project, region, service
        self.manifest = manifest  # the export served: its lineage labels the revisions
        self.verify = verify  # checks a canary through its tag URL before it gets traffic
        self.wait, self.timeout = wait, timeout
        self.resolve = resolve or resolve_in_registry  # tag -> the digest its registry serves now
        self.parent = f"projects/{project}/locations/{region}"
        self.full_name = f"{self.parent}/services/{service}"

    # -- calls -----------------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., Any], missing_ok: bool = False, **kwargs: Any) -> Any:
        """``fn(**kwargs)``; an API or transport failure is a DeployError naming the service and quoting the
        API (None for NotFound when ``missing_ok``)."""
        import google.auth.exceptions
        import requests
        from google.api_core import exceptions

        try:
            return fn(**kwargs)
        except exceptions.NotFound as exc:
            if missing_ok:
                return None
            raise DeployError(
                f"Cloud Run {what} for {self.service} failed: {exc.message}",
                hint="It may have been deleted meanwhile; run nfldeploy status, then plan again.",
            ) from exc
        except exceptions.GoogleAPICallError as exc:
            hint = {
                403: "Check the caller's roles (run.developer, iam.serviceAccountUser) on the project.",
                429: "A Cloud Run quota is exhausted; see the project's quotas page.",
            }.get(exc.code or 0)
            raise DeployError(
                f"Cloud Run {what} for {self.service} failed: {exc.message}", hint=hint
            ) from exc
        except (requests.RequestException, google.auth.exceptions.GoogleAuthError) as exc:
            raise DeployError(
                f"Cloud Run {what} for {self.service} failed: cannot reach the API: {exc}",
                hint=f"Check the network, the credentials and ${ENDPOINT_ENV} if it is set.",
            ) from exc

    def _current(self) -> Any | None:
        return self._call(
            "reading the service", self.client.get_service, missing_ok=True, name=self.full_name
        )

    def _wait(self, operation: Any, what: str) -> Any:
        import requests
        from google.api_core import exceptions

        try:
            return operation.result(timeout=self.timeout)
        except (exceptions.GoogleAPICallError, TimeoutError, requests.RequestException) as exc:
            message = getattr(exc, "message", None) or str(exc)
            current = self._current()
            serving = self._serving_text(current)
            raise DeployError(
                f"Cloud Run {what} of {self.service} failed: {message}; {serving}",
                hint="See the revision's logs in the Cloud Run console.",
            ) from exc

    @staticmethod
    def _traffic(service: Any | None) -> dict[str, int]:
        if service is None:
            return {}
        return {t.revision.rsplit("/", 1)[-1]: t.percent for t in service.traffic_statuses if t.percent}

    def _serving_text(self, service: Any | None) -> str:
        traffic = self._traffic(service)
        if not traffic:
            return "nothing serves"
        return "traffic unchanged: " + ", ".join(f"{rev} {pct} %" for rev, pct in traffic.items())

    # -- what is wanted --------------------------------------------------------------------------------
    def _template(self, settings: DeploySettings, image: str) -> tuple[str, dict[str, Any]]:
        template = revision_template(service_view(settings, image, self.project, self.manifest))
        digest = (
            image.split("@sha256:", 1)[1]
            if "@sha256:" in image
            else hashlib.sha256(image.encode()).hexdigest()
        )
        spec = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
        revision = f"{self.service}-{digest[:8]}-{spec[:4]}"
        template["revision"] = revision
        return revision, template

    # -- the protocol ----------------------------------------------------------------------------------
    def plan(self, settings: DeploySettings, image: str, canary: int | None = None) -> Plan:
        if canary is not None and not 0 < canary < 100:
            raise ConfigError(f"--canary must be between 1 and 99, not {canary}")
        if canary is not None and not self.wait:
            raise ConfigError(
                "a canary is checked before it gets traffic, so it cannot be deployed --no-wait"
            )
        check_cloudrun(settings)  # impossible settings are refused before any call, naming the limit
        image = self._pinned(image)
        revision, template = self._template(settings, image)
        current = self._current()
        traffic = self._traffic(current)
        exists = current is not None and current.template.revision == revision
        actions: list[Action] = []
        secret = next((e for e in template["containers"][0]["env"] if "value_source" in e), None)
        if secret and not exists:
            ref = secret["value_source"]["secret_key_ref"]
            actions.append(Action("secret_ref", secret["name"], f"{ref['secret']} version {ref['version']}"))
        if canary is not None and not traffic:
            canary = None  # nothing serves yet: the first revision takes all traffic
        if current is None:
            actions.append(Action("create", revision, f"{image}, {self._summary(settings)}"))
        elif not exists:
            actions.append(Action("update", revision, f"{image}, {self._summary(settings)}"))
        wanted = self._wanted_traffic(revision, traffic, canary)
        if canary is not None and not exists:
            actions.append(Action("tag", f"{CANARY_TAG}: {revision}", "no traffic until checked"))
            if self.verify is not None:
                actions.append(Action("smoke_test", revision, "through the canary tag URL"))
        if wanted != traffic:
            actions.append(
                Action("traffic", revision, ", ".join(f"{rev} {pct} %" for rev, pct in wanted.items()))
            )
        if settings.allow_unauthenticated and not self._public(current):
            actions.append(Action("iam", "allUsers", f"{INVOKER} (anyone may invoke)"))
        previous = max(traffic, key=lambda rev: traffic[rev]) if traffic else None
        spec = {
            "template": template,
            "revision": revision,
            "traffic": wanted,
            "canary": canary,
            "previous": previous if previous != revision else None,
            "public": settings.allow_unauthenticated,
        }
        return Plan(self.name, self.service, image, tuple(actions), tuple(sorted(spec.items())))

    def _pinned(self, image: str) -> str:
        """``image`` by digest: a tag is resolved in its registry, so a tag moved to another image plans a
        new revision, and the revision runs exactly the image planned."""
        if "@sha256:" in image:
            return image
        from nfldeploy.image.push import split_reference

        try:
            digest = self.resolve(image)
        except NfldeployError as exc:
            raise DeployError(
                f"cannot resolve {image} to a digest: {exc.message}; nothing was changed",
                hint="Push the image first (nfldeploy push), or deploy by digest (--image REPO@sha256:...).",
            ) from exc
        return f"{split_reference(image)[0]}@{digest}"

    @staticmethod
    def _summary(settings: DeploySettings) -> str:
        return (
            f"cpu {settings.cpu:g}, memory {settings.memory}, instances {settings.min_instances}-"
            f"{settings.max_instances}, concurrency {settings.concurrency}, timeout {settings.timeout}s"
        )

    @staticmethod
    def _wanted_traffic(revision: str, traffic: dict[str, int], canary: int | None) -> dict[str, int]:
        if canary is None:
            return {revision: 100}
        if traffic.get(revision) == canary:
            return dict(traffic)
        others = {rev: pct for rev, pct in traffic.items() if rev != revision}
        total = sum(others.values())
        wanted = {revision: canary}
        left = 100 - canary
        for index, (rev, pct) in enumerate(sorted(others.items(), key=lambda item: -item[1])):
            share = left if index == len(others) - 1 else round(pct * (100 - canary) / total)
            wanted[rev] = share
            left -= share
        return {rev: pct for rev, pct in wanted.items() if pct}

    def _public(self, service: Any | None) -> bool:
        if service is None:
            return False
        policy = self._call(
            "reading the IAM policy", self.client.get_iam_policy, request={"resource": self.full_name}
        )
        return any(b.role == INVOKER and "allUsers" in b.members for b in policy.bindings)

    def _traffic_list(self, shares: dict[str, int], tag: str | None = None) -> list[dict[str, Any]]:
        targets = [{"type_": REVISION, "revision": rev, "percent": pct} for rev, pct in shares.items()]
        if tag:
            found = next((t for t in targets if t["revision"] == tag), None)
            if found is None:
                targets.append({"type_": REVISION, "revision": tag, "percent": 0, "tag": CANARY_TAG})
            else:
                found["tag"] = CANARY_TAG
        return targets

    def _submit(
        self,
        current: Any | None,
        template: dict[str, Any],
        traffic: list[dict[str, Any]],
        previous: str | None,
    ) -> Any:
        """Create the service, or update ``current`` (as just read), with ``template`` and ``traffic``."""
        from google.cloud import run_v2

        annotations = dict(current.annotations) if current is not None else {}
        if previous:
            annotations[PREVIOUS_ANNOTATION] = previous
        service = run_v2.Service(
            name=self.full_name if current is not None else "",
            template=template,
            traffic=traffic,
            annotations=annotations,
            labels={"managed-by": "nfldeploy"},
        )
        if current is None:
            operation = self._call(
                "create",
                self.client.create_service,
                parent=self.parent,
                service=service,
                service_id=self.service,
            )
        else:
            operation = self._call("update", self.client.update_service, service=service)
        return operation

    def apply(self, plan: Plan) -> Deployment:
        current = self._current()
        traffic = self._traffic(current)
        if plan.empty:
            if current is None:
                raise DeployError(f"{self.service} does not exist and the plan is empty; plan again")
            return self._deployment(current, plan.get("revision"), None, changed=False)
        revision, previous = plan.get("revision"), plan.get("previous")
        template = plan.get("template") if any(a.kind in ("create", "update") for a in plan.actions) else None
        if template is None:
            if current is None:
                raise DeployError(f"{self.service} does not exist on Cloud Run; plan again")
            template = type(current.template).to_dict(current.template)
        if plan.get("canary") is not None:
            # 1. the canary comes up with no traffic, reachable under its tag
            shares = {rev: pct for rev, pct in traffic.items() if rev != revision}
            self._wait(
                self._submit(current, template, self._traffic_list(shares, tag=revision), previous), "deploy"
            )
            current = self._current()
            if self.verify is not None:
                url = self._tag_url(current)
                try:
                    self.verify(url)
                except NfldeployError as exc:
                    raise DeployError(
                        f"the canary {revision} failed its check at {url} and got no traffic; "
                        f"{self._serving_text(current)}: {exc.message}"
                    ) from exc
        operation = self._submit(
            current,
            template,
            self._traffic_list(plan.get("traffic"), tag=revision if plan.get("canary") else None),
            previous,
        )
        if plan.get("public"):  # the service exists once the change is accepted: grant before any wait
            self._make_public()
        if not self.wait:
            return Deployment(
                self.name, self.service, "", revision, plan.image, plan.get("traffic"), previous, True
            )
        service = self._wait(operation, "deploy")
        return self._deployment(service, revision, previous)

    def _tag_url(self, service: Any) -> str:
        for status in service.traffic_statuses:
            if status.tag == CANARY_TAG:
                return str(status.uri)
        raise DeployError(f"Cloud Run reports no URL for the {CANARY_TAG} tag of {self.service}")

    def _make_public(self) -> None:
        from google.iam.v1 import policy_pb2

        policy = self._call(
            "reading the IAM policy", self.client.get_iam_policy, request={"resource": self.full_name}
        )
        binding = next((b for b in policy.bindings if b.role == INVOKER), None)
        if binding is None:
            binding = policy.bindings.add(role=INVOKER)
        if "allUsers" not in binding.members:
            binding.members.append("allUsers")
        assert isinstance(policy, policy_pb2.Policy)
        self._call(
            "writing the IAM policy",
            self.client.set_iam_policy,
            request={"resource": self.full_name, "policy": policy},
        )

    def _deployment(
        self, service: Any, revision: str, previous: str | None, changed: bool = True
    ) -> Deployment:
        return Deployment(
            self.name,
            self.service,
            str(service.uri),
            revision,
            str(service.template.containers[0].image),
            self._traffic(service),
            previous,
            changed,
        )

    def plan_promote(self) -> Plan:
        """Give the canary (the revision tagged ``canary``) all traffic."""
        current = self._current()
        canary = next(
            (t.revision for t in (current.traffic_statuses if current else []) if t.tag == CANARY_TAG), None
        )
        if current is None:
            raise DeployError(f"{self.service} does not exist on Cloud Run", hint="Deploy it first.")
        traffic = self._traffic(current)
        if canary is None:
            newest = current.latest_ready_revision.rsplit("/", 1)[-1]
            if traffic != {newest: 100}:
                raise DeployError(
                    f"{self.service} has no canary to promote", hint="Deploy with --canary PCT first."
                )
            canary = newest  # the newest revision already serves everything (e.g. the first deploy)
        spec = {
            "revision": canary,
            "traffic": {canary: 100},
            "canary": None,
            "previous": None,
            "public": False,
        }
        actions = (Action("traffic", canary, f"{canary} 100 %"),) if traffic != {canary: 100} else ()
        image = str(current.template.containers[0].image)
        return Plan(self.name, self.service, image, actions, tuple(sorted(spec.items())))

    def status(self) -> dict[str, Any]:
        current = self._current()
        if current is None:
            return {
                "target": self.name,
                "service": self.service,
                "url": None,
                "serving": None,
                "traffic": {},
                "revisions": [],
            }
        traffic = self._traffic(current)
        latest = current.latest_created_revision.rsplit("/", 1)[-1]
        ready = current.latest_ready_revision.rsplit("/", 1)[-1]
        names = list(
            dict.fromkeys([*traffic, latest, ready, current.annotations.get(PREVIOUS_ANNOTATION, "")])
        )
        tags = {t.revision.rsplit("/", 1)[-1]: t.tag for t in current.traffic_statuses if t.tag}
        revisions = []
        for index, name in enumerate(n for n in names if n):
            state = "serving" if traffic.get(name) else "ready"
            if name == latest and latest != ready:
                failed = current.terminal_condition.state.name == "CONDITION_FAILED"
                state = "failed" if failed else "deploying"
            image = str(current.template.containers[0].image) if name == current.template.revision else ""
            revisions.append(
                {
                    "name": name,
                    "state": state + (f" (tag {tags[name]})" if name in tags else ""),
                    "image": image,
                    "revision": index,
                }
            )
        canary_url = next(
            (str(t.uri) for t in current.traffic_statuses if t.tag == CANARY_TAG and t.uri), None
        )
        return {
            "target": self.name,
            "service": self.service,
            "url": str(current.uri) or None,
            "canary_url": canary_url,
            "serving": max(traffic, key=lambda rev: traffic[rev]) if traffic else None,
            "traffic": traffic,
            "previous": current.annotations.get(PREVIOUS_ANNOTATION),
            "condition": current.terminal_condition.message or current.terminal_condition.state.name,
            "revisions": revisions,
        }

    def rollback(self) -> Deployment:
        current = self._current()
        if current is None:
            raise DeployError(f"{self.service} does not exist on Cloud Run")
        traffic = self._traffic(current)
        serving = max(traffic, key=lambda rev: traffic[rev]) if traffic else None
        previous = current.annotations.get(PREVIOUS_ANNOTATION)
        canary = next((t.revision for t in current.traffic_statuses if t.tag == CANARY_TAG), None)
        if canary and canary in traffic and len(traffic) > 1:
            target = max((rev for rev in traffic if rev != canary), key=lambda rev: traffic[rev])
        else:
            target = previous
        if not target or (target == serving and traffic.get(target) == 100):
            raise DeployError(f"no previous revision of {self.service} to roll back to")
        template = type(current.template).to_dict(current.template)
        operation = self._submit(current, template, self._traffic_list({target: 100}), serving)
        service = self._wait(operation, "rollback")
        return self._deployment(service, target, serving)
