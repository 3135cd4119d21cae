"""Google Cloud Run target (through the Google Cloud facade, ``cloud/gcp.py``).

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from nfldeploy.cloud.call_limits import CallLimits
from nfldeploy.cloud.gcp import INVOKER, CloudRunLogs, CloudRunServices, WaitFailed

if TYPE_CHECKING:
    from nfldeploy.cloud.gcp import ServicesClient
from nfldeploy.errors import CheckFailed, ConfigError, DeployError, NfldeployError, SmokeTestError
from nfldeploy.records.manifest import Manifest
from nfldeploy.render.cloudrun_spec import revision_template, service_view
from nfldeploy.render.limits import check_cloudrun
from nfldeploy.service_logs import LEVELS, LogEntry, LogQuery, admitted, parse_line, poll, select
from nfldeploy.settings import INGRESS_ALL, DeploySettings
from nfldeploy.targets.base import Action, Deployment, Plan, PlanSpec, Revision, Status
from nfldeploy.targets.cloudrun_fields import MANAGED_LABELS, merged_labels, merged_template, pruned
from nfldeploy.targets.traffic import canary_split

CANARY_TAG = "canary"
PREVIOUS_ANNOTATION = "nfldeploy.io/previous-revision"
REVISION = 2  # TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
OPERATION_TIMEOUT = 600.0


def resolve_in_registry(image: str) -> str:
    """The digest ``image``'s registry serves for its tag, with the push credentials for that registry."""
    from nfldeploy.image.push import registry_auth
    from nfldeploy.image.registry import resolve_digest

    return resolve_digest(image, registry_auth("auto", image, "us-east-1"))


@dataclass(frozen=True)
class CloudRunSpec(PlanSpec):
    """The revision a Cloud Run plan creates (its template, None when it exists already), the traffic it
    leaves, the canary share, the revision kept for rollback, whether allUsers may invoke and the service's
    ingress (None: as it is)."""

    revision: str
    traffic: dict[str, int]
    template: dict[str, Any] | None = None
    canary: int | None = None
    previous: str | None = None
    public: bool = False
    ingress: str | None = None


class CloudRunTarget:
    """One Cloud Run service, through an injected ``run_v2.ServicesClient``."""

    name = "cloudrun"

    def __init__(
        self,
        client: ServicesClient | None,
        project: str | None,
        region: str,
        service: str,
        *,
        manifest: Manifest | None = None,
        verify: Callable[[str], None] | None = None,
        wait: bool = True,
        timeout: float = OPERATION_TIMEOUT,
        resolve: Callable[[str], str] | None = None,
        log_store: CloudRunLogs | None = None,
        limits: CallLimits | None = None,
    ) -> None:
        if not project:
            raise ConfigError("Cloud Run needs a Google Cloud project", hint="Set project in nfldeploy.toml.")
        if client is None:
            raise ConfigError("no Cloud Run client was given to the target")
        self.client, self.project, self.region, self.service = client, project, region, service
        self.manifest = manifest  # the export served: its lineage labels the revisions
        self.verify = verify  # checks a canary through its tag URL before it gets traffic
        self.wait, self.timeout = wait, timeout
        self.resolve = resolve or resolve_in_registry  # tag -> the digest its registry serves now
        self.parent = f"projects/{project}/locations/{region}"
        self.full_name = f"{self.parent}/services/{service}"
        self.api = CloudRunServices(client, self.full_name, limits)  # each call's retry and timeout
        self.log_store = log_store  # Cloud Logging, for logs()

    # -- calls -----------------------------------------------------------------------------------------
    def _current(self) -> Any | None:
        return self.api.current()

    def _wait(self, operation: Any, what: str) -> Any:
        try:
            return self.api.result(operation, self.timeout)
        except WaitFailed as exc:
            message = str(exc)
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
    def _template(
        self, settings: DeploySettings, image: str, current: Any | None
    ) -> tuple[str, dict[str, Any]]:
        """The revision's name and the template nfldeploy sets. The name is the image digest and a hash of
        the spec, so the same image and settings name the same revision. A revision name is unique and
        Cloud Run refuses to reuse one for another configuration (409 "already exists": run.v2's
        RevisionTemplate.revision, "The unique name for the revision"), so when someone else changed the
        template since (gcloud, the console: ``current`` is not the revision this spec names) the hash is
        of what an update sends, this spec merged into the template read (targets.cloudrun_fields): the
        user's env var gets a revision of its own, and a re-plan of the same state names it again."""
        template = revision_template(service_view(settings, image, self.project, self.manifest))
        digest = (
            image.split("@sha256:", 1)[1]
            if "@sha256:" in image
            else hashlib.sha256(image.encode()).hexdigest()
        )

        def name(spec: dict[str, Any]) -> str:
            text = json.dumps(spec, sort_keys=True)
            return f"{self.service}-{digest[:8]}-{hashlib.sha256(text.encode()).hexdigest()[:4]}"

        revision = name(template)
        if current is not None and current.template.revision != revision:
            sent = merged_template(self.api.as_dict(current.template), template)
            revision = name(pruned({key: value for key, value in sent.items() if key != "revision"}))
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
        current = self._current()
        revision, template = self._template(settings, image, current)
        traffic = self._traffic(current)
        exists = current is not None and current.template.revision == revision
        actions: list[Action] = self._half_done(current, revision)
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
        wanted = canary_split(revision, traffic, canary)
        if canary is not None and not exists:
            actions.append(Action("tag", f"{CANARY_TAG}: {revision}", "no traffic until checked"))
            if self.verify is not None:
                actions.append(Action("smoke_test", revision, "through the canary tag URL"))
        if wanted != traffic:
            actions.append(
                Action("traffic", revision, ", ".join(f"{rev} {pct} %" for rev, pct in wanted.items()))
            )
        public = self._public(current)
        if settings.allow_unauthenticated and not public:
            actions.append(Action("iam", "allUsers", f"{INVOKER} (anyone may invoke)"))
        elif public and not settings.allow_unauthenticated:
            actions.append(Action("iam", "allUsers", f"revoke {INVOKER} (callers need IAM again)"))
        ingress = self._ingress(settings, current)
        if ingress is not None:
            was = self._current_ingress(current)
            if ingress != was:
                actions.append(Action("ingress", self.service, f"{was} -> {ingress}"))
        previous = max(traffic, key=lambda rev: traffic[rev]) if traffic else None
        spec = CloudRunSpec(
            revision,
            wanted,
            template if not exists else None,
            canary,
            previous if previous != revision else None,
            settings.allow_unauthenticated,
            ingress,
        )
        return Plan(self.name, self.service, image, tuple(actions), spec)

    def _half_done(self, current: Any | None, revision: str) -> list[Action]:
        """What a deploy that stopped midway left (``found`` actions, first in the plan): a revision that
        failed to get ready, a canary tagged but given no traffic; and what this plan does with it."""
        if current is None:
            return []
        found = []
        latest = current.latest_created_revision.rsplit("/", 1)[-1]
        ready = current.latest_ready_revision.rsplit("/", 1)[-1]
        if latest and latest != ready and current.terminal_condition.state.name == "CONDITION_FAILED":
            then = "deployed again" if latest == revision else f"left without traffic, {revision} planned"
            why = current.terminal_condition.message or "not ready"
            found.append(Action("found", latest, f"failed in the last deploy ({why}): {then}"))
        traffic = self._traffic(current)
        for target in current.traffic_statuses:
            name = target.revision.rsplit("/", 1)[-1]
            if target.tag == CANARY_TAG and not traffic.get(name):
                then = "checked again before it gets traffic" if name == revision else "its tag goes"
                found.append(
                    Action(
                        "found", name, f"a canary tagged but given no traffic (its deploy stopped): {then}"
                    )
                )
        return found

    @staticmethod
    def _ingress(settings: DeploySettings, current: Any | None) -> str | None:
        """The ingress a deploy sets: the setting's (``DeploySettings.cloudrun_ingress``) on a create, when set,
        or behind a load balancer (trusted_hops); None otherwise, so that an update never opens a service
        someone restricted themselves (gcloud run services update --ingress) back to ALL."""
        if current is None or settings.ingress or settings.trusted_hops:
            return settings.cloudrun_ingress
        return None

    @staticmethod
    def _current_ingress(current: Any | None) -> str:
        """The service's ingress as read; a service yet to be created, or UNSPECIFIED ("if no revision is
        active", run v2 Service.ingress), counts as the API's default, ALL."""
        if current is None:
            return INGRESS_ALL
        name = str(current.ingress.name)
        return INGRESS_ALL if name == "INGRESS_TRAFFIC_UNSPECIFIED" else name

    def _pinned(self, image: str) -> str:
        """``image`` by digest: a tag is resolved in its registry, so a tag moved to another image plans a
        new revision, and the revision runs exactly the image planned."""
        if "@sha256:" in image:
            return image
        from nfldeploy.image.references import split_reference

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

    def _public(self, service: Any | None) -> bool:
        return service is not None and self.api.is_public()

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
        ingress: str | None = None,
    ) -> Any:
        """Create the service, or update ``current`` (as just read), with ``template``, ``traffic`` and
        ``ingress`` (None: as it is): every field, label, annotation and env var nfldeploy does not own keeps
        its value (targets.cloudrun_fields)."""
        annotations = dict(current.annotations) if current is not None else {}
        if previous:
            annotations[PREVIOUS_ANNOTATION] = previous
        if current is None:
            return self.api.submit(None, template, traffic, annotations, dict(MANAGED_LABELS), ingress)
        merged = merged_template(self.api.as_dict(current.template), template)
        labels = merged_labels(dict(current.labels), MANAGED_LABELS)
        return self.api.submit(current, merged, traffic, annotations, labels, ingress)

    def apply(self, plan: Plan) -> Deployment:
        spec = plan.spec_as(CloudRunSpec)
        current = self._current()
        traffic = self._traffic(current)
        if plan.empty:
            if current is None:
                raise DeployError(f"{self.service} does not exist and the plan is empty; plan again")
            return self._deployment(current, spec.revision, None, changed=False)
        revision, previous, template = spec.revision, spec.previous, spec.template
        if template is None:
            if current is None:
                raise DeployError(f"{self.service} does not exist on Cloud Run; plan again")
            template = self.api.as_dict(current.template)
        tagged = current is not None and any(
            t.tag == CANARY_TAG and t.revision.rsplit("/", 1)[-1] == revision
            for t in current.traffic_statuses
        )
        if spec.canary is not None and not (tagged and traffic.get(revision)):
            # 1. the canary comes up with no traffic, reachable under its tag (unless a run before got this
            # far and further: a tagged canary with a share passed its check, or it would have none)
            shares = {rev: pct for rev, pct in traffic.items() if rev != revision}
            self._wait(
                self._submit(
                    current, template, self._traffic_list(shares, tag=revision), previous, spec.ingress
                ),
                "deploy",
            )
            current = self._current()
            if self.verify is not None:
                url = self._tag_url(current)
                try:
                    self.verify(url)
                except NfldeployError as exc:  # a check that said no is exit 3, as smoke-test's own
                    raise (SmokeTestError if isinstance(exc, CheckFailed) else DeployError)(
                        f"the canary {revision} failed its check at {url} and got no traffic; "
                        f"{self._serving_text(current)}: {exc.message}",
                        hint="Its logs: nfldeploy logs --target cloudrun; fix it, then deploy again.",
                    ) from exc
        operation = self._submit(
            current,
            template,
            self._traffic_list(spec.traffic, tag=revision if spec.canary else None),
            previous,
            spec.ingress,
        )
        if spec.public or current is not None:  # the service exists once the change is accepted: set
            self.api.set_public(spec.public)  # who may invoke it before any wait
        if not self.wait:
            return Deployment(self.name, self.service, "", revision, plan.image, spec.traffic, previous, True)
        service = self._wait(operation, "deploy")
        return self._deployment(service, revision, previous)

    def _tag_url(self, service: Any) -> str:
        for status in service.traffic_statuses:
            if status.tag == CANARY_TAG:
                return str(status.uri)
        raise DeployError(f"Cloud Run reports no URL for the {CANARY_TAG} tag of {self.service}")

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
        actions = (Action("traffic", canary, f"{canary} 100 %"),) if traffic != {canary: 100} else ()
        image = str(current.template.containers[0].image)
        return Plan(self.name, self.service, image, actions, CloudRunSpec(canary, {canary: 100}))

    def status(self) -> Status:
        current = self._current()
        if current is None:
            return Status(self.name, self.service, None, None, {}, [])
        traffic = self._traffic(current)
        latest = current.latest_created_revision.rsplit("/", 1)[-1]
        ready = current.latest_ready_revision.rsplit("/", 1)[-1]
        names = list(
            dict.fromkeys([*traffic, latest, ready, current.annotations.get(PREVIOUS_ANNOTATION, "")])
        )
        tags = {t.revision.rsplit("/", 1)[-1]: t.tag for t in current.traffic_statuses if t.tag}
        revisions: list[Revision] = []
        for index, name in enumerate(n for n in names if n):
            state = "serving" if traffic.get(name) else "ready"
            if name == latest and latest != ready:
                failed = current.terminal_condition.state.name == "CONDITION_FAILED"
                state = "failed" if failed else "deploying"
            image = str(current.template.containers[0].image) if name == current.template.revision else ""
            revisions.append(
                Revision(name, state + (f" (tag {tags[name]})" if name in tags else ""), image, index)
            )
        canary_url = next(
            (str(t.uri) for t in current.traffic_statuses if t.tag == CANARY_TAG and t.uri), None
        )
        return Status(
            self.name,
            self.service,
            str(current.uri) or None,
            max(traffic, key=lambda rev: traffic[rev]) if traffic else None,
            traffic,
            revisions,
            canary_url=canary_url,
            previous=current.annotations.get(PREVIOUS_ANNOTATION),
            condition=current.terminal_condition.message or current.terminal_condition.state.name,
        )

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
        template = self.api.as_dict(current.template)
        operation = self._submit(current, template, self._traffic_list({target: 100}), serving)
        service = self._wait(operation, "rollback")
        return self._deployment(service, target, serving)

    # -- logs ------------------------------------------------------------------------------------------
    def logs(self, query: LogQuery) -> Iterator[LogEntry]:
        """Cloud Logging's entries of the service's revisions (``follow`` polls every 2 s)."""
        if self.log_store is None:
            raise ConfigError("no Cloud Logging client was given to the Cloud Run target")
        store = self.log_store
        levels = LEVELS[LEVELS.index(query.level) :] if query.level else None

        def fetch(since: datetime | None) -> list[LogEntry]:
            lines = store.lines(since, query.request_id, levels, query.limit)
            return [parse_line(line.payload, line.revision, line.time) for line in lines]

        if query.follow:
            return admitted(poll(fetch, query.since), query)
        return iter(select(fetch(query.since), query))
