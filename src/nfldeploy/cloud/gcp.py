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

from nfldeploy.cloud.call_limits import FIRST_BACKOFF, MAX_BACKOFF, CallLimits
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
        try:
            return fn()
        except (
            exceptions.RetryError
        ) as exc:  # the budget ran out: the last attempt's error is the one to tell
            if isinstance(exc.cause, Exception):
                raise exc.cause from exc
            raise
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
            409: "Someone else changed it since it was read (another deploy?): run nfldeploy status, then "
            "deploy again.",
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


def transient_errors() -> tuple[type[Exception], ...]:
    """The failures worth another attempt: throttling, a 5xx, a dropped connection, an answer past the
    timeout (https://google.aip.dev/194: UNAVAILABLE is retryable; RESOURCE_EXHAUSTED "may be retried with
    exponential backoff" when it is a rate limit, https://cloud.google.com/apis/design/errors#error_retries;
    INTERNAL is retried by Google's own client defaults for these methods)."""
    import requests
    from google.api_core import exceptions

    return (
        exceptions.TooManyRequests,
        exceptions.InternalServerError,
        exceptions.BadGateway,
        exceptions.ServiceUnavailable,
        exceptions.GatewayTimeout,
        requests.ConnectionError,
        requests.Timeout,
        requests.exceptions.ChunkedEncodingError,
    )


def call_retry(limits: CallLimits, on_retry: Callable[[], None] | None = None) -> Any:
    """google-api-core's ``Retry`` for one call under ``limits``: transient errors only, ``limits.attempts``
    attempts at most (the first included), exponential backoff with jitter from ``FIRST_BACKOFF`` to
    ``MAX_BACKOFF`` seconds, and ``limits.budget`` seconds in all. A fresh one per call: it counts."""
    from google.api_core.retry import Retry

    transient = transient_errors()
    tried = [1]

    def retryable(exc: Exception) -> bool:
        if not isinstance(exc, transient) or tried[0] >= limits.attempts:
            return False
        tried[0] += 1
        if on_retry is not None:
            on_retry()
        return True

    return Retry(
        predicate=retryable,
        initial=FIRST_BACKOFF,
        maximum=MAX_BACKOFF,
        multiplier=2.0,
        timeout=limits.budget,
    )


class _Settling(Exception):
    """The service is still reconciling a change (what ``Landed`` polls on)."""


class Landed:
    """A change that reached the API although its answer was lost (a retry met ALREADY_EXISTS or a stale
    etag): waited on by reading the service until it no longer reconciles, as an operation would be."""

    def __init__(self, read: Callable[[], Any]) -> None:
        self.read = read

    def result(self, timeout: float) -> Any:
        from google.api_core.retry import Retry, if_exception_type

        def settled() -> Any:
            service = self.read()
            if service is None or service.reconciling:
                raise _Settling()
            return service

        polling = Retry(predicate=if_exception_type(_Settling), initial=0.5, maximum=5.0, timeout=timeout)
        try:
            service = polling(settled)()
        except Exception as exc:
            from google.api_core import exceptions

            if isinstance(exc, exceptions.RetryError):
                raise TimeoutError(f"the change did not settle within {timeout:g} s") from exc
            raise
        if service.terminal_condition.state.name == "CONDITION_FAILED":
            raise WaitFailed(service.terminal_condition.message or "the revision failed")
        return service


class CloudRunServices:
    """The Admin API v2 services of one service (``full_name``), through a ``run_v2.ServicesClient``: every
    failure is a DeployError naming the service and quoting the API. Each call is tried as ``limits`` says
    (``call_retry``), each attempt waiting ``limits.timeout`` seconds for its answer."""

    def __init__(self, client: ServicesClient, full_name: str, limits: CallLimits | None = None) -> None:
        self.client, self.full_name = client, full_name
        self.parent, _, self.service = full_name.rpartition("/services/")
        self.limits = limits or CallLimits()

    def call(
        self,
        what: str,
        fn: Callable[..., Any],
        missing_ok: bool = False,
        landed: Callable[[], Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """``fn(**kwargs)`` under ``call_retry``; None for NotFound when ``missing_ok``. A change whose retry is
        refused as done already (ALREADY_EXISTS, ABORTED: the attempt before reached the API, its answer was
        lost) is decided by ``landed()``: what it returns stands for the answer, None means someone else's."""
        from google.api_core import exceptions

        retried = [False]

        def once() -> Any:
            return fn(retry=None, timeout=self.limits.timeout, **kwargs)

        def attempts() -> Any:
            try:
                return call_retry(self.limits, lambda: retried.__setitem__(0, True))(once)()
            except exceptions.Conflict:  # 409: ALREADY_EXISTS or ABORTED (REST maps by HTTP status)
                if retried[0] and landed is not None:
                    found = landed()
                    if found is not None:
                        return found
                raise

        return api_call(f"Cloud Run {what}", self.service, attempts, missing_ok)

    def current(self) -> Any | None:
        """The service as the API has it now (None when it does not exist)."""
        return self.call("reading the service", self.client.get_service, missing_ok=True, name=self.full_name)

    def result(self, operation: Any, timeout: float) -> Any:
        """The operation's result; WaitFailed with the API's message when it fails or times out. Each poll
        is one call under ``limits`` (its own retry and per-attempt timeout); the polling itself stops after
        ``timeout`` seconds."""

        import requests
        from google.api_core import exceptions
        from google.api_core.future.polling import DEFAULT_POLLING

        if isinstance(operation, Landed):
            try:
                return operation.result(timeout)
            except (exceptions.GoogleAPICallError, requests.RequestException) as exc:
                raise WaitFailed(getattr(exc, "message", None) or str(exc)) from exc
        refresh = getattr(operation, "_refresh", None)
        retry = None
        if refresh is not None:
            # each poll its own attempts and RPC timeout: api-core hands one retry object to every poll of a
            # wait (PollingFuture.result), and the attempts ``call_retry`` counts would be shared by them all
            limits = self.limits

            def poll(**kwargs: Any) -> Any:
                kwargs["retry"] = None  # no retry inside ours: the attempts are ours alone
                kwargs.setdefault("timeout", limits.timeout)
                return call_retry(limits)(refresh)(**kwargs)

            operation._refresh = poll
        else:
            retry = call_retry(self.limits)
        try:
            return operation.result(
                timeout=timeout,
                retry=retry,
                polling=DEFAULT_POLLING.with_delay(initial=0.5, maximum=5.0),
            )
        except exceptions.RetryError as exc:
            cause = exc.cause
            raise WaitFailed(getattr(cause, "message", None) or str(cause or exc)) from exc
        except (exceptions.GoogleAPICallError, TimeoutError, requests.RequestException) as exc:
            raise WaitFailed(getattr(exc, "message", None) or str(exc)) from exc

    #: The fields ``submit`` writes on an update, each whole (https://google.aip.dev/161: a map in the mask is
    #: replaced, not merged). The caller passes them merged with what it read, so nothing else changes.
    #: ``ingress`` (Service.ingress, run v2) is named besides them when the caller sets it: a field outside
    #: the mask is ignored by the API (https://google.aip.dev/134), so a changed ingress needs its name there.
    UPDATE_MASK = ("template", "traffic", "labels", "annotations")

    def submit(
        self,
        current: Any | None,
        template: dict[str, Any],
        traffic: list[dict[str, Any]],
        annotations: dict[str, str],
        labels: dict[str, str],
        ingress: str | None = None,
    ) -> Any:
        """Create the service, or update ``current`` (as just read) with its etag, so that a change someone else
        made since is refused (409 ABORTED) rather than overwritten; returns the long-running operation.

        ``ingress`` is an IngressTraffic name (None: as read, or the API's default on a create).
        An update sends the service as read with these fields replaced, and an ``update_mask`` naming
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
            if ingress:
                service.ingress = getattr(run_v2.IngressTraffic, ingress)
            return self.call(
                "create",
                self.client.create_service,
                landed=lambda: self._landed(service),
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
        if ingress:
            service.ingress = getattr(run_v2.IngressTraffic, ingress)
        paths = [*self.UPDATE_MASK, *(["ingress"] if ingress else [])]
        mask = field_mask_pb2.FieldMask(paths=paths)
        return self.call(
            "update",
            self.client.update_service,
            landed=lambda: self._landed(service),
            request=run_v2.UpdateServiceRequest(service=service, update_mask=mask),
        )

    def _landed(self, sent: Any) -> Landed | None:
        """A ``Landed`` wait when the service as read now holds what ``sent`` asked for (its revision and its
        traffic): the lost answer's change; None when it holds anything else (someone else's change)."""

        def targets(service: Any) -> list[tuple[str, int, str]]:
            return [(t.revision, t.percent, t.tag) for t in service.traffic]

        now = self.current()
        if now is None or now.template.revision != sent.template.revision:
            return None
        if targets(now) != targets(sent):
            return None
        return Landed(self.current)

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

        def landed() -> bool | None:  # a retry's stale etag: the lost write went through if the policy is so
            return True if self.is_public() == public else None

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
            landed=landed,
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
