"""The Google Cloud facade: the only module that imports google-auth and google-cloud-run.

Credentials are Application Default Credentials (a credentials file, gcloud's ADC, the metadata server,
workload identity federation in CI). ``NFLDEPLOY_CLOUDRUN_ENDPOINT`` points the Admin API client somewhere
else (the tests' local fake, over plain http without credentials)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from google.cloud.run_v2 import ServicesClient as ServicesClient

from nfldeploy.errors import ConfigError, DeployError, PushError

ENDPOINT_ENV = (
    "NFLDEPLOY_CLOUDRUN_ENDPOINT"  # e.g. a local fake of the Admin API; default: run.googleapis.com
)
LOGGING_ENDPOINT_ENV = (
    "NFLDEPLOY_LOGGING_ENDPOINT"  # the Cloud Logging API's; default: logging.googleapis.com
)
ADC_HINT = (
    "Run 'gcloud auth application-default login', set GOOGLE_APPLICATION_CREDENTIALS, "
    "or use workload identity federation in CI."
)
T = TypeVar("T")
INVOKER = "roles/run.invoker"


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

    try:
        credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        credentials.refresh(google.auth.transport.requests.Request())  # type: ignore[no-untyped-call]
    except google.auth.exceptions.GoogleAuthError as exc:
        raise PushError(
            f"cannot get a Google access token: {exc}",
            hint="Run 'gcloud auth application-default login' or set GOOGLE_APPLICATION_CREDENTIALS.",
        ) from exc
    return {"username": "oauth2accesstoken", "password": str(credentials.token)}


def services_client(endpoint: str | None = None) -> ServicesClient:
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
            hint=ADC_HINT,
        ) from exc


def api_call(what: str, subject: str, fn: Callable[[], T], missing_ok: bool = False) -> T | None:
    """``fn()``; an API or transport failure is a DeployError naming ``subject`` and quoting the API (None
    for NotFound when ``missing_ok``)."""
    import google.auth.exceptions
    import requests
    from google.api_core import exceptions

    try:
        return fn()
    except exceptions.NotFound as exc:
        if missing_ok:
            return None
        raise DeployError(
            f"{what} for {subject} failed: {exc.message}",
            hint="It may have been deleted meanwhile; run nfldeploy status, then plan again.",
        ) from exc
    except exceptions.GoogleAPICallError as exc:
        hint = {
            403: "Check the caller's roles (run.developer, iam.serviceAccountUser, logging.viewer) on the project.",
            429: "A quota is exhausted; see the project's quotas page.",
        }.get(exc.code or 0)
        raise DeployError(f"{what} for {subject} failed: {exc.message}", hint=hint) from exc
    except (requests.RequestException, google.auth.exceptions.GoogleAuthError) as exc:
        raise DeployError(
            f"{what} for {subject} failed: cannot reach the API: {exc}",
            hint=f"Check the network, the credentials and ${ENDPOINT_ENV} / ${LOGGING_ENDPOINT_ENV} if set.",
        ) from exc


class WaitFailed(Exception):
    """A long-running operation ended in an error or timed out (the message is the API's)."""


class CloudRunServices:
    """The Admin API v2 services of one service (``full_name``), through a ``run_v2.ServicesClient``: every
    failure is a DeployError naming the service and quoting the API."""

    def __init__(self, client: ServicesClient, full_name: str) -> None:
        self.client, self.full_name = client, full_name
        self.parent, _, self.service = full_name.rpartition("/services/")

    def call(self, what: str, fn: Callable[..., Any], missing_ok: bool = False, **kwargs: Any) -> Any:
        """``fn(**kwargs)``; None for NotFound when ``missing_ok``."""
        return api_call(f"Cloud Run {what}", self.service, lambda: fn(**kwargs), missing_ok)

    def current(self) -> Any | None:
        """The service as the API has it now (None when it does not exist)."""
        return self.call("reading the service", self.client.get_service, missing_ok=True, name=self.full_name)

    @staticmethod
    def result(operation: Any, timeout: float) -> Any:
        """The operation's result; WaitFailed with the API's message when it fails or times out."""
        import requests
        from google.api_core import exceptions

        try:
            return operation.result(timeout=timeout)
        except (exceptions.GoogleAPICallError, TimeoutError, requests.RequestException) as exc:
            raise WaitFailed(getattr(exc, "message", None) or str(exc)) from exc

    #: The fields ``submit`` writes on an update, each whole (https://google.aip.dev/161: a map in the mask is
    #: replaced, not merged). The caller passes them merged with what it read, so nothing else changes.
    UPDATE_MASK = ("template", "traffic", "labels", "annotations")

    def submit(
        self,
        current: Any | None,
        template: dict[str, Any],
        traffic: list[dict[str, Any]],
        annotations: dict[str, str],
        labels: dict[str, str],
    ) -> Any:
        """Create the service, or update ``current`` (as just read) with its etag, so that a change someone else
        made since is refused (409 ABORTED) rather than overwritten; returns the long-running operation.

        An update sends the service as read with these four fields replaced, and an ``update_mask`` naming
        them (projects.locations.services.patch, https://cloud.google.com/run/docs/reference/rest/v2/
        projects.locations.services/patch): with the mask honoured only they change; were it ignored, the
        implied mask (every populated field, https://google.aip.dev/134) or a whole replacement would write
        back what was read. Either way the fields nfldeploy does not own keep their values."""
        from google.cloud import run_v2
        from google.protobuf import field_mask_pb2

        if current is None:
            service = run_v2.Service(
                template=template, traffic=traffic, annotations=annotations, labels=labels
            )
            return self.call(
                "create",
                self.client.create_service,
                parent=self.parent,
                service=service,
                service_id=self.service,
            )
        service = run_v2.Service()
        run_v2.Service.copy_from(service, current)
        service.name = self.full_name
        service.template = run_v2.RevisionTemplate(template)
        service.traffic = [run_v2.TrafficTarget(target) for target in traffic]
        service.labels.clear()
        service.labels.update(labels)
        service.annotations.clear()
        service.annotations.update(annotations)
        mask = field_mask_pb2.FieldMask(paths=list(self.UPDATE_MASK))
        return self.call(
            "update",
            self.client.update_service,
            request=run_v2.UpdateServiceRequest(service=service, update_mask=mask),
        )

    def is_public(self) -> bool:
        """allUsers may invoke the service."""
        policy = self.call(
            "reading the IAM policy", self.client.get_iam_policy, request={"resource": self.full_name}
        )
        return any(b.role == INVOKER and "allUsers" in b.members for b in policy.bindings)

    def set_public(self, public: bool) -> None:
        """Let allUsers invoke the service (the run.invoker binding), or no longer: read, modify, write the
        IAM policy with the etag read (a concurrent change fails with ABORTED instead of being lost)."""
        from google.iam.v1 import policy_pb2

        policy = self.call(
            "reading the IAM policy", self.client.get_iam_policy, request={"resource": self.full_name}
        )
        assert isinstance(policy, policy_pb2.Policy)
        binding = next((b for b in policy.bindings if b.role == INVOKER), None)
        if public == (binding is not None and "allUsers" in binding.members):
            return  # already so: nothing to write
        if public:
            if binding is None:
                binding = policy.bindings.add(role=INVOKER)
            binding.members.append("allUsers")
        else:
            assert binding is not None
            binding.members.remove("allUsers")
            if not binding.members:
                policy.bindings.remove(binding)
        self.call(
            "writing the IAM policy",
            self.client.set_iam_policy,
            request={"resource": self.full_name, "policy": policy},
        )

    @staticmethod
    def as_dict(template: Any) -> dict[str, Any]:
        """A revision template message as the dict ``submit`` takes."""
        return dict(type(template).to_dict(template))


def logging_client(project: str, endpoint: str | None = None) -> Any:
    """A ``google.cloud.logging.Client`` over REST for ``project``: Application Default Credentials, or none
    for a plain-http endpoint (a local fake), taken from ``endpoint`` or $NFLDEPLOY_LOGGING_ENDPOINT."""
    import google.auth.exceptions
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import logging as cloud_logging

    endpoint = endpoint or os.environ.get(LOGGING_ENDPOINT_ENV)
    options = ClientOptions(api_endpoint=endpoint) if endpoint else None
    credentials = AnonymousCredentials() if endpoint and endpoint.startswith("http://") else None  # type: ignore[no-untyped-call]
    try:
        return cloud_logging.Client(  # type: ignore[no-untyped-call]
            project=project, credentials=credentials, client_options=options, _use_grpc=False
        )
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise DeployError(f"no Google credentials: {exc}", hint=ADC_HINT) from exc


@dataclass(frozen=True)
class RevisionLine:
    """One line a Cloud Run revision wrote, as Cloud Logging returns it."""

    time: datetime
    revision: str
    payload: str  # the line itself (a JSON payload is dumped back to its JSON text)


class CloudRunLogs:
    """The log entries of one Cloud Run service's revisions, newest first from the API, through
    ``entries:list`` (a mismatch in the API's answer is a DeployError naming the service)."""

    def __init__(self, project: str, service: str, client: Any = None) -> None:
        self.project, self.service, self._client = project, service, client

    @property
    def client(self) -> Any:
        """The Logging client, made on first use (deploys never need one)."""
        if self._client is None:
            self._client = logging_client(self.project)
        return self._client

    def lines(
        self, since: datetime | None, request_id: str | None, levels: tuple[str, ...] | None, limit: int
    ) -> list[RevisionLine]:
        """Up to ``limit`` lines, oldest first, newer than ``since``, of one request, at these levels."""
        clauses = ['resource.type="cloud_run_revision"', f'resource.labels.service_name="{self.service}"']
        if since is not None:
            clauses.append(f'timestamp>="{since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}"')
        if request_id is not None:
            clauses.append(f'jsonPayload.request_id="{request_id}"')
        if levels is not None:
            clauses.append("jsonPayload.level=(" + " OR ".join(f'"{level}"' for level in levels) + ")")
        from google.cloud.logging import DESCENDING

        found = api_call(
            "Cloud Logging: reading the logs",
            self.service,
            lambda: list(
                self.client.list_entries(
                    resource_names=[f"projects/{self.project}"],
                    filter_=" AND ".join(clauses),
                    order_by=DESCENDING,
                    max_results=limit,
                    page_size=min(limit, 1000),
                )
            ),
        )
        lines = []
        for entry in reversed(found or []):
            payload = entry.payload
            text = json.dumps(payload) if isinstance(payload, dict) else str(payload or "")
            labels = entry.resource.labels if entry.resource is not None else {}
            lines.append(RevisionLine(entry.timestamp, str(labels.get("revision_name", "?")), text))
        return lines
