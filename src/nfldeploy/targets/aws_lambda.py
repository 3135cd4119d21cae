"""AWS Lambda target (through the AWS facade, ``cloud/aws.py``).

A deploy ensures the ECR repository (scan on push) and the execution role, pushes the Lambda image when it
is not in ECR yet, creates or updates the image function and waits with boto3's waiters, publishes a version
and points the alias ``live`` at it (a canary: weighted routing between the serving version and the new
one), and serves the alias through a function URL or an HTTP API (``lambda_endpoints``). The function's description carries a hash of its
spec, so an unchanged image and settings give an empty plan. The API keys reach the function as the ARN of
a Secrets Manager secret that the handler reads at init; only the ARN is ever shown.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from nfldeploy.cloud.aws import CONFLICT_HINT, AwsCalls, AwsClients, is_arn_of
from nfldeploy.errors import CanaryCheckFailed, ConfigError, DeployError, NfldeployError
from nfldeploy.render.limits import check_lambda
from nfldeploy.service_logs import LogEntry, LogQuery, admitted, parse_line, poll, select
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.base import Action, Deployment, Plan, PlanSpec, Revision, Status
from nfldeploy.targets.lambda_bootstrap import log_group, needs_bootstrap
from nfldeploy.targets.lambda_endpoints import (
    ALIAS,
    LambdaEndpoints,
    canary_url_auth,
    check_api_auth,
    check_url_auth,
)
from nfldeploy.targets.lambda_resources import SECRET_ENV, LambdaResources
from nfldeploy.targets.lambda_versions import numbered, referenced, retired, spans
from nfldeploy.targets.traffic import alias_weights

if TYPE_CHECKING:
    from nfldeploy.image.remote import RemoteImage

#: Windows ending now in which ``logs`` looks for the last ``limit`` lines, narrowest first.
LOG_WINDOWS = (timedelta(minutes=10), timedelta(hours=2), timedelta(hours=24))
CANARY_ALIAS = "canary"  # the new version alone, with its own function URL, checked before it gets traffic
SPEC_PREFIX = "nfldeploy spec "


PREVIOUS_PREFIX = "previous version "


def _revision(revision: Any) -> dict[str, str]:
    """The RevisionId parameter, when the state read has one."""
    return {"RevisionId": str(revision)} if revision else {}


def _docker_push(region: str, ecr: Any) -> Callable[[str, str], str]:
    """Push a local image as exactly ``reference`` (an ECR repository URI and tag) with an ECR token."""

    def push(image: str, reference: str) -> str:
        from nfldeploy.image.push import push_to_ecr

        return push_to_ecr(image, reference, region, ecr)

    return push


def _local_image_id(image: str) -> str | None:
    """The image id (its config digest) of a local image; None when the engine lacks it or there is no
    engine (a CI runner deploying an image an earlier job pushed)."""
    from nfldeploy.errors import DockerUnavailable
    from nfldeploy.image.engine import connect, find_image_id

    try:
        return find_image_id(connect(), image)
    except DockerUnavailable:
        return None


def _read_remote(image: str, arch: str) -> RemoteImage:
    """A registry image's manifest and labels, with the registry credentials of the environment."""
    from nfldeploy.image.push import credentials_from_env
    from nfldeploy.image.remote import read_image

    return read_image(image, credentials_from_env(), "linux/amd64" if arch == "x86_64" else "linux/arm64")


def _registry_copy(region: str, ecr: Any) -> Callable[[RemoteImage, str], str]:
    def copy(image: RemoteImage, reference: str) -> str:
        from nfldeploy.cloud.aws import ecr_login
        from nfldeploy.image.push import credentials_from_env
        from nfldeploy.image.remote import copy_image

        return copy_image(image, reference, credentials_from_env(), ecr_login(region, ecr))

    return copy


SPEC_KEYS = ("digest", "memory", "timeout", "env", "arch", "role")


def _spec_hash(spec: dict[str, Any]) -> str:
    """What the function's description records: the image digest and the settings it runs with."""
    return hashlib.sha256(json.dumps({k: spec[k] for k in SPEC_KEYS}, sort_keys=True).encode()).hexdigest()[
        :16
    ]


def _is_ecr(image: str) -> bool:
    return ".dkr.ecr." in image.split("/", 1)[0]


@dataclass(frozen=True)
class LambdaSpec(PlanSpec):
    """What a Lambda plan deploys: the image (its ECR digest, or ``local:<id>`` until pushed), the function's
    configuration (env holds secret ARNs, never values), where it comes from and how it is reached."""

    digest: str
    memory: int
    timeout: int
    env: dict[str, str]
    arch: str
    role: str
    spec_hash: str
    push_to: str | None
    repository: str
    canary: int | None
    url_auth: str
    canary_url_auth: str
    throttling: dict[str, float]
    previous: str | None
    revoke: tuple[tuple[str, str], ...] = ()  # (alias, statement id): grants nfldeploy does not make
    retire: tuple[str, ...] = ()  # versions deleted after the alias moved (lambda_keep_versions)
    reuse: str | None = None  # a published version that holds this spec already: the alias moves to it

    def hashed(self, digest: str) -> str:
        """The spec hash the function's description records, for the pushed ``digest``."""
        return _spec_hash({**asdict(self), "digest": digest})


@dataclass(frozen=True)
class LambdaPromoteSpec(PlanSpec):
    """The version the alias ``live`` gives all traffic (None: the newest already has it), and the versions
    deleted afterwards."""

    promote: str | None
    retire: tuple[str, ...] = ()


class LambdaTarget:
    """One Lambda function serving the alias ``live`` through a function URL."""

    name = "lambda"

    def __init__(
        self,
        clients: AwsClients,
        function: str,
        region: str,
        *,
        push: Callable[[str, str], str] | None = None,
        local_image_id: Callable[[str], str | None] = _local_image_id,
        read_remote: Callable[[str, str], RemoteImage] = _read_remote,
        copy: Callable[[RemoteImage, str], str] | None = None,
        wait: bool = True,
        waiter_config: dict[str, int] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        verify: Callable[[str], None] | None = None,
        endpoint: str = "function_url",
        keep_versions: int = 5,
    ) -> None:
        self.aws, self.function, self.region = clients, function, region
        self.push = push or _docker_push(region, clients.ecr)
        self.copy = copy or _registry_copy(region, clients.ecr)
        self.local_image_id, self.read_remote = local_image_id, read_remote
        self.wait = wait
        self.waiter_config = waiter_config or {"Delay": 2, "MaxAttempts": 150}
        self.verify = verify  # checks a canary through its own alias's URL before it gets traffic
        self.keep_versions = keep_versions  # the newest versions a promote keeps (lambda_keep_versions)
        self.calls = AwsCalls(function, sleep)
        self._unpushed: dict[str, str] = {}  # image -> what identifies it before ECR holds it
        self.resources = LambdaResources(clients, self.calls, function)
        self.endpoints = LambdaEndpoints(clients, self.calls, function, region, endpoint)

    # -- calls -----------------------------------------------------------------------------------------
    def _wait(self, waiter: str, what: str, alias: dict[str, Any] | None) -> None:
        failed = self.calls.wait(
            self.aws.lambda_.get_waiter(waiter), FunctionName=self.function, WaiterConfig=self.waiter_config
        )
        if failed is not None:
            serving = (
                f"alias {ALIAS} still serves version {alias['FunctionVersion']} (100 %)"
                if alias
                else "nothing serves yet"
            )
            raise DeployError(f"Lambda {what} of {self.function} failed: {failed}; {serving}")

    def _own_revision(
        self, image_uri: str, description: str | None, alias: dict[str, Any] | None
    ) -> str | None:
        """The function's RevisionId once this release's change settled, if the function still holds this
        release's image (and ``description``); else another release changed it meanwhile: a DeployError."""
        found = self.calls.call(
            "reading the function", self.aws.lambda_.get_function, FunctionName=self.function
        )
        configuration = found.get("Configuration", {})
        if found.get("Code", {}).get("ImageUri") != image_uri or (
            description is not None and configuration.get("Description") != description
        ):
            serving = (
                f"alias {ALIAS} still serves version {alias['FunctionVersion']}"
                if alias
                else "nothing serves yet"
            )
            raise DeployError(
                f"another release changed {self.function} while this one was updating it (its image or "
                f"configuration is no longer this release's); this one stopped before publishing: {serving}",
                hint=CONFLICT_HINT,
            )
        revision = configuration.get("RevisionId")
        return None if revision is None else str(revision)

    # -- state -----------------------------------------------------------------------------------------
    def _function(self) -> dict[str, Any] | None:
        found = self.calls.get(
            "reading the function",
            self.aws.lambda_.get_function,
            "ResourceNotFoundException",
            FunctionName=self.function,
        )
        return None if found is None else dict(found["Configuration"])

    def _alias(self, name: str = ALIAS) -> dict[str, Any] | None:
        found = self.calls.get(
            "reading the alias",
            self.aws.lambda_.get_alias,
            "ResourceNotFoundException",
            FunctionName=self.function,
            Name=name,
        )
        return None if found is None else dict(found)

    def _aliases(self) -> dict[str, dict[str, Any]]:
        """Every alias of the function, by name (all pages of ListAliases)."""
        listed = self.calls.pages(
            "listing the aliases",
            self.aws.lambda_,
            "list_aliases",
            "Aliases",
            "ResourceNotFoundException",
            FunctionName=self.function,
        )
        return {str(alias["Name"]): dict(alias) for alias in listed or []}

    def _versions(self) -> list[dict[str, Any]]:
        """Every published version (all pages of ListVersionsByFunction: at most 50 a page,
        https://docs.aws.amazon.com/lambda/latest/api/API_ListVersionsByFunction.html), oldest first."""
        listed = self.calls.pages(
            "listing versions",
            self.aws.lambda_,
            "list_versions_by_function",
            "Versions",
            "ResourceNotFoundException",
            FunctionName=self.function,
        )
        published = [dict(v) for v in listed or [] if str(v["Version"]).isdigit()]
        return sorted(published, key=lambda v: int(v["Version"]))

    @staticmethod
    def _previous(alias: dict[str, Any] | None) -> str | None:
        """The version a rollback of ``alias`` returns to (its description records it)."""
        description = str((alias or {}).get("Description", ""))
        return description.removeprefix(PREVIOUS_PREFIX) if description.startswith(PREVIOUS_PREFIX) else None

    def _retirement(
        self, aliases: dict[str, dict[str, Any]], keep: int, publishing: bool, *kept: str | None
    ) -> tuple[tuple[str, ...], Action | None]:
        """The versions a deploy or promote that ends with no canary deletes, and its plan line: all but the
        ``kept`` ones (serving, previous), those another alias uses, and the newest ``keep``."""
        guarded = referenced(aliases.values(), skip=(ALIAS, CANARY_ALIAS)) | {v for v in kept if v}
        retire = retired(numbered(self._versions()), keep, guarded, publishing)
        if not retire:
            return (), None
        detail = (
            f"delete versions {spans(retire)}: kept are the serving, the previous (rollback) and the newest "
            f"{keep} (lambda_keep_versions), and any an alias uses"
        )
        return retire, Action("retire_versions", self.function, detail)

    def _retire(self, versions: tuple[str, ...]) -> None:
        """Delete the published ``versions``, but any an alias (as it is now) uses or a rollback returns to.
        Always with a version number as the qualifier: without one DeleteFunction deletes the function."""
        aliases = self._aliases()
        guarded = referenced(aliases.values()) | {self._previous(aliases.get(ALIAS)) or ""}
        for version in versions:
            if not version.isdigit() or version in guarded:
                continue
            self.calls.get(
                f"deleting version {version}",
                self.aws.lambda_.delete_function,
                "ResourceNotFoundException",
                FunctionName=self.function,
                Qualifier=version,
            )

    @staticmethod
    def _weights(alias: dict[str, Any] | None) -> dict[str, int]:
        if alias is None:
            return {}
        routing = alias.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})
        return alias_weights(alias["FunctionVersion"], routing)

    def _env(self, settings: DeploySettings) -> dict[str, str]:
        env = settings.service_env()
        if settings.auth:
            arn = settings.api_keys_secret or ""
            if not is_arn_of(arn, "secretsmanager"):
                raise ConfigError(
                    "auth on Lambda needs api_keys_secret set to a Secrets Manager secret ARN",
                    hint="Its full ARN, with the six characters Secrets Manager adds: "
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:nfl-api-keys-AbCdEf",
                )
            env[SECRET_ENV] = self.resources.granted_secret(arn)
        return env

    def _source(
        self, settings: DeploySettings, image: str, has_repository: bool
    ) -> tuple[str | None, Action | None]:
        """Where a non-ECR image comes from: the local engine (pushed to ECR), else its registry (copied
        registry to registry, no engine needed). (ECR digest when ECR holds it already, the action otherwise.)"""
        from nfldeploy.image.references import names_registry, split_reference

        tag = split_reference(image)[1] if "@" not in image else None
        local_id = self.local_image_id(image)
        if local_id is not None:
            self._unpushed[image] = f"local:{local_id}"
            found = (
                self.resources.pushed_digest(settings.repository, tag, local_id) if has_repository else None
            )
            return found, None if found else Action(
                "push", image, f"to ECR {settings.repository} with an ECR token"
            )
        if not names_registry(image):
            raise ConfigError(
                f"{image} is not an image in the local Docker engine and names no registry to read it from",
                hint="Build it here (nfldeploy build --kind lambda), or give a registry reference "
                "(host/repository:tag or @sha256:...) or an ECR image URI.",
            )
        remote = self.read_remote(image, settings.lambda_architecture)
        self._unpushed[image] = remote.digest
        found = (
            self.resources.pushed_digest(settings.repository, tag, remote.image_id)
            if has_repository
            else None
        )
        detail = f"{remote.digest[:19]} to ECR {settings.repository}, registry to registry (no local engine)"
        return found, None if found else Action("copy", image, detail)

    def plan(self, settings: DeploySettings, image: str, canary: int | None = None) -> Plan:
        if canary is not None and not 0 < canary < 100:
            raise ConfigError(f"--canary must be between 1 and 99, not {canary}")
        check_lambda(settings)  # impossible settings are refused before any call, naming the limit
        if settings.lambda_endpoint == "api_gateway":
            check_api_auth(settings)
        else:
            check_url_auth(settings)
        actions: list[Action] = []
        # bootstrap made the repository and the execution role; the deployer may not (cloud/lambda_deployer.py)
        if self.resources.repository(settings) is None:
            raise needs_bootstrap(f"the ECR repository {settings.repository} of {self.function} is missing")
        if self.resources.role_arn() is None:
            raise needs_bootstrap(f"the execution role {self.resources.role_name()} is missing")
        if _is_ecr(image):
            digest = self.resources.ecr_digest(settings.repository, image)
            if digest is None:
                raise DeployError(
                    f"{image} is not in the ECR repository {settings.repository}; nothing was changed",
                    hint="Push it first (nfldeploy push --auth ecr), or deploy a local image to push it.",
                )
            push_to = None
        else:
            digest, action = self._source(settings, image, True)
            push_to = None if digest is not None else image
            if action is not None:
                actions.append(action)
        env = self._env(settings)
        wanted_digest = digest or self._unpushed[image]
        role = self.resources.role_name()
        spec_hash = _spec_hash(
            {
                "digest": wanted_digest,
                "memory": settings.memory_mib,
                "timeout": settings.timeout,
                "env": env,
                "arch": settings.lambda_architecture,
                "role": role,
            }
        )
        current = self._function()
        if current is not None and current.get("PackageType", "Image") != "Image":
            # a function's package type is fixed at creation (UpdateFunctionCode takes an ImageUri for an
            # Image function only: https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html);
            # IAM has no condition key for it, so a deployer could have created a .zip function of this name
            raise ConfigError(
                f"the function {self.function} is a {current.get('PackageType')} package, not a container image: "
                "nfldeploy did not make it; nothing was changed",
                hint="Delete it (with admin credentials) and deploy again, or deploy under another service_name.",
            )
        alias = self._alias()
        weights = self._weights(alias)
        unchanged = current is not None and current.get("Description", "") == SPEC_PREFIX + spec_hash
        # What traffic reaches, not $LATEST, says whether the release is done: a run that stopped after the
        # update or the publish left $LATEST (and maybe a version) holding the spec with no traffic on it.
        ready = self._version_holding(spec_hash, weights) if unchanged else None
        publishing = current is None or not unchanged or ready is None
        moving = not publishing and self._moves(alias, weights, ready, canary)
        if SECRET_ENV in env and not unchanged:
            actions.append(Action("secret_ref", SECRET_ENV, env[SECRET_ENV]))
        summary = (
            f"memory {settings.memory_mib} MiB, timeout {settings.timeout}s, {settings.lambda_architecture}"
        )
        if current is None:
            actions.append(Action("create_function", self.function, f"PackageType Image, {summary}"))
        elif not unchanged:
            actions.append(Action("update_function", self.function, f"code and configuration: {summary}"))
        if publishing:
            found = "" if current is None or not unchanged else "the function has the new spec, no version: "
            actions.append(Action("publish_version", self.function, f"{found}after the update is ready"))
        if publishing or moving:
            new = "new version" if publishing else f"version {ready}"
            if not publishing:
                actions.append(
                    Action("reuse_version", f"{self.function}:{ready}", self._found(ready, weights, alias))
                )
            if canary is not None and alias is not None and (publishing or ready not in weights):
                actions.append(
                    Action(
                        "canary_alias",
                        CANARY_ALIAS,
                        f"the new version alone, its own function URL (auth {canary_url_auth(settings)})",
                    )
                )
                if self.verify is not None:
                    actions.append(Action("smoke_test", CANARY_ALIAS, "through the canary alias's URL"))
                actions.append(
                    Action(
                        "alias",
                        ALIAS,
                        f"{new} {canary} %, version {alias['FunctionVersion']} {100 - canary} %",
                    )
                )
            else:
                actions.append(Action("alias", ALIAS, f"{new} 100 %"))
        urls = self.endpoints.url_configs() if current is not None else {}
        url = urls.get(ALIAS) if alias is not None else None
        throttling = {"rate": settings.rate_limit_rps, "burst": settings.rate_limit_burst}
        if settings.lambda_endpoint == "api_gateway":
            api = self.endpoints.api()
            if api is None:  # bootstrap makes it and records it: the deployer may not create APIs
                raise needs_bootstrap(
                    f"the HTTP API of {self.function} is missing (or bootstrap has not recorded it)"
                )
            if self.endpoints.api_throttling(api) != throttling:
                actions.append(
                    Action(
                        "api_gateway",
                        self.function,
                        f"the HTTP API's $default stage throttled at {settings.rate_limit_rps:g} rps "
                        f"(burst {settings.rate_limit_burst})",
                    )
                )
            if url is not None:
                actions.append(Action("remove_function_url", ALIAS, "the HTTP API is the way in"))
        else:
            # The HTTP API invokes live as its own role (CredentialsArn), which no grant on the function
            # shows and the deployer may not delete: while bootstrap's record of it stands, it stays a way in
            # beside the function URL (with its own auth, maybe none). Bootstrap with these settings removes it.
            fronting = self.endpoints.recorded_api_id()
            if fronting is not None:
                raise needs_bootstrap(
                    f"the HTTP API {fronting} that bootstrap made still fronts {self.function}'s live alias, "
                    "but the settings say function_url"
                )
            if url is None or url["AuthType"] != settings.function_url_auth:
                actions.append(Action("function_url", ALIAS, f"auth {settings.function_url_auth}"))
        aliases = self._aliases() if current is not None else {}
        revoke = tuple(
            (name, sid)
            for name in (ALIAS, CANARY_ALIAS)
            if name in aliases
            for sid in self.endpoints.stray_grants(name)
        )
        for name, sid in revoke:
            actions.append(Action("revoke_grant", f"{name}/{sid}", "a grant nfldeploy does not make"))
        releasing = publishing or moving
        in_flight = alias is not None and canary is not None and (releasing or len(weights) > 1)
        retire: tuple[str, ...] = ()
        if in_flight and not releasing and CANARY_ALIAS in aliases:  # the canary stays: its URL follows
            canary_auth = canary_url_auth(settings)
            if urls.get(CANARY_ALIAS, {}).get("AuthType") != canary_auth:
                actions.append(Action("canary_url", CANARY_ALIAS, f"auth {canary_auth}, as the way in has"))
        elif not in_flight:
            if CANARY_ALIAS in aliases or CANARY_ALIAS in urls:
                actions.append(
                    Action(
                        "end_canary",
                        CANARY_ALIAS,
                        "no canary in flight: delete its function URL, the grants that made it public, "
                        "and the alias",
                    )
                )
            if current is not None:
                serving = None if publishing or alias is None else alias["FunctionVersion"]
                if moving:
                    serving = ready
                previous = alias["FunctionVersion"] if alias and releasing else None
                retire, action = self._retirement(
                    aliases,
                    settings.lambda_keep_versions,
                    publishing,
                    serving,
                    previous or self._previous(alias),
                )
                if action is not None:
                    actions.append(action)
        plan_spec = LambdaSpec(
            digest=wanted_digest,
            memory=settings.memory_mib,
            timeout=settings.timeout,
            env=env,
            arch=settings.lambda_architecture,
            role=role,
            spec_hash=spec_hash,
            push_to=push_to,
            repository=settings.repository,
            canary=canary if alias is not None else None,
            url_auth=settings.function_url_auth,
            canary_url_auth=canary_url_auth(settings),
            throttling=throttling,
            previous=alias["FunctionVersion"] if alias else None,
            revoke=revoke,
            retire=retire,
            reuse=None if publishing else ready,
        )
        return Plan(self.name, self.function, image, tuple(actions), plan_spec)

    def _version_holding(self, spec_hash: str, weights: dict[str, int]) -> str | None:
        """The published version whose description records ``spec_hash`` (it was published from this spec):
        one that takes traffic first, else the newest. None when none was published yet."""
        holding = [
            str(v["Version"]) for v in self._versions() if v.get("Description", "") == SPEC_PREFIX + spec_hash
        ]
        serving = [v for v in holding if v in weights]
        return max(serving or holding, key=int, default=None)

    @staticmethod
    def _moves(
        alias: dict[str, Any] | None, weights: dict[str, int], ready: str | None, canary: int | None
    ) -> bool:
        """Whether the alias must move to ``ready`` (a version that holds the wanted spec): it has no alias
        yet, takes less than all traffic without --canary, or none with one (a canary in flight stays)."""
        if alias is None:
            return True
        if canary is None:
            return weights != {ready: 100}
        return ready not in weights

    def _found(self, version: str | None, weights: dict[str, int], alias: dict[str, Any] | None) -> str:
        """What a plan found half-done: a version holding the wanted spec, and its share of the traffic; or the
        version a rollback left (alias live records it), which this deploy gives the traffic back to."""
        share = weights.get(version or "", 0)
        if version is not None and version == self._previous(alias) and not share:
            return (
                f"version {version} holds this image and configuration, and a rollback took its traffic away: "
                "this deploy gives it all back (deploy another image to keep the rollback)"
            )
        return (
            f"version {version} has the new code and configuration but takes "
            + (f"{share} % of the traffic" if share else "no traffic")
            + " (an earlier deploy stopped part-way, or a canary in flight)"
        )

    # -- apply -----------------------------------------------------------------------------------------
    def apply(self, plan: Plan) -> Deployment:
        kinds = {a.kind for a in plan.actions}
        alias = self._alias()
        if isinstance(plan.spec, LambdaPromoteSpec):
            return self._apply_promote(plan, plan.spec, alias)
        if plan.empty:
            if alias is None:
                raise DeployError(f"{self.function} has no alias {ALIAS} and the plan is empty; plan again")
            return self._deployment(alias, None, changed=False)
        spec = plan.spec_as(LambdaSpec)
        for name, sid in spec.revoke:  # first: what nfldeploy does not make does not outlive a release
            self.endpoints.revoke(name, sid)
        repository = self.resources.repository_uri(spec.repository)
        role_arn = self.resources.role_arn()
        if role_arn is None:
            raise needs_bootstrap(f"the execution role {spec.role} is missing")
        if "push" in kinds or "copy" in kinds:
            from nfldeploy.image.references import split_reference

            tag = split_reference(plan.image.split("@", 1)[0])[1]
            if "push" in kinds:
                digest = self.push(plan.image, f"{repository}:{tag}")
            else:
                digest = self.copy(self.read_remote(plan.image, spec.arch), f"{repository}:{tag}")
        else:
            digest = spec.digest
        image_uri = f"{repository}@{digest}"
        config = {
            "Role": role_arn,
            "MemorySize": spec.memory,
            "Timeout": spec.timeout,
            "Environment": {"Variables": dict(spec.env)},
            "Description": SPEC_PREFIX + spec.hashed(digest),
        }
        version = alias["FunctionVersion"] if alias else None
        if "create_function" in kinds:
            self.calls.call_while_role_propagates(
                "create",
                self.aws.lambda_.create_function,
                FunctionName=self.function,
                PackageType="Image",
                Code={"ImageUri": image_uri},
                Architectures=[spec.arch],
                **config,
            )
            self._wait("function_active_v2", "create", alias)
        elif "update_function" in kinds:
            # Each change names the RevisionId of the state it follows, so a concurrent release's change in
            # between is refused (PreconditionFailedException) instead of mixed with this one's
            # (https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html: RevisionId)
            self.calls.call(
                "code update",
                self.aws.lambda_.update_function_code,
                FunctionName=self.function,
                ImageUri=image_uri,
                Architectures=[spec.arch],
                **_revision((self._function() or {}).get("RevisionId")),
            )
            self._wait("function_updated_v2", "code update", alias)
            self.calls.call_while_role_propagates(
                "configuration update",
                self.aws.lambda_.update_function_configuration,
                FunctionName=self.function,
                **config,
                **_revision(self._own_revision(image_uri, None, alias)),
            )
            self._wait("function_updated_v2", "configuration update", alias)
        if "publish_version" in kinds:
            # what is published is exactly this release's code and configuration, or nothing
            # (https://docs.aws.amazon.com/lambda/latest/api/API_PublishVersion.html: RevisionId)
            version = self.calls.call(
                "publish",
                self.aws.lambda_.publish_version,
                FunctionName=self.function,
                **_revision(self._own_revision(image_uri, str(config["Description"]), alias)),
            )["Version"]
        elif spec.reuse is not None:  # published by a run that stopped before the alias moved
            version = spec.reuse
        elif alias is not None:  # unchanged function, a canary in flight: the newest version takes all
            version = max(self._weights(alias), key=int)
        if "end_canary" in kinds:  # before live moves: its version keeps its share until its door is shut
            self.endpoints.end_canary(CANARY_ALIAS)
        if "canary_alias" in kinds:
            assert version is not None
            try:
                self._check_canary(version, spec.canary_url_auth, alias)
                if "alias" in kinds:
                    alias = self._point_alias(alias, version, spec.canary)
            except CanaryCheckFailed:
                raise
            except NfldeployError as exc:
                raise self._canary_stopped(exc, version) from exc
        elif "alias" in kinds:
            alias = self._point_alias(alias, version, spec.canary)
        if "function_url" in kinds:
            self.endpoints.ensure_url(spec.url_auth)
        if "remove_function_url" in kinds:
            self.endpoints.remove_url()
        if "api_gateway" in kinds:
            self.endpoints.ensure_api(spec.throttling)
        if "canary_url" in kinds:
            self.endpoints.ensure_url(spec.canary_url_auth, CANARY_ALIAS)
        if "retire_versions" in kinds:
            self._retire(spec.retire)
        assert alias is not None
        return self._deployment(alias, spec.previous)

    def _apply_promote(self, plan: Plan, spec: LambdaPromoteSpec, alias: dict[str, Any] | None) -> Deployment:
        if alias is None:
            raise DeployError(f"{self.function} has no alias {ALIAS}", hint="Deploy it first.")
        kinds = {a.kind for a in plan.actions}
        previous = None
        if spec.promote is not None:
            previous = alias["FunctionVersion"]
            alias = self._point_alias(alias, spec.promote, None)
        if "end_canary" in kinds:
            self.endpoints.end_canary(CANARY_ALIAS)
        if "retire_versions" in kinds:
            self._retire(spec.retire)
        return self._deployment(alias, previous, changed=not plan.empty)

    def _point_alias(
        self, alias: dict[str, Any] | None, version: str | None, canary: int | None
    ) -> dict[str, Any]:
        if alias is None:
            return dict(
                self.calls.call(
                    "creating the alias",
                    self.aws.lambda_.create_alias,
                    FunctionName=self.function,
                    Name=ALIAS,
                    FunctionVersion=version,
                )
            )
        serving = alias["FunctionVersion"]
        if canary is not None and version != serving:
            routing = {"AdditionalVersionWeights": {version: canary / 100}}
            primary = serving
        else:
            routing, primary = {"AdditionalVersionWeights": {}}, version
        description = f"{PREVIOUS_PREFIX}{serving}" if primary != serving else alias.get("Description", "")
        return dict(
            self.calls.call(
                "updating the alias",
                self.aws.lambda_.update_alias,
                FunctionName=self.function,
                Name=ALIAS,
                FunctionVersion=primary,
                RoutingConfig=routing,
                Description=description,
                # moved by another release since it was read: refused, never overwritten
                # (https://docs.aws.amazon.com/lambda/latest/api/API_UpdateAlias.html: RevisionId)
                **_revision(self._alias_revision(alias)),
            )
        )

    def _alias_revision(self, alias: dict[str, Any]) -> Any:
        """The RevisionId to update ``alias`` (as read at the start) with: read again now, since this deploy's
        own permission changes on the alias may have renewed it (a resource policy's revision is its
        qualifier's); a DeployError when another release moved the alias meanwhile."""
        fresh = self._alias(str(alias["Name"])) if alias.get("Name") else None
        if fresh is None:
            return alias.get("RevisionId")
        same = self._weights(fresh) == self._weights(alias) and fresh.get("Description", "") == alias.get(
            "Description", ""
        )
        if not same:
            raise DeployError(
                f"another release moved alias {alias['Name']} of {self.function} while this one was deploying "
                f"(it serves {self._weights(fresh)} now); this one stopped before moving it",
                hint=CONFLICT_HINT,
            )
        return fresh.get("RevisionId")

    def _check_canary(self, version: str, auth: str, live: dict[str, Any] | None) -> None:
        """Point the canary alias at ``version`` alone, give it a function URL, and check it there before
        the live alias routes any traffic to it."""
        existing = self._alias(CANARY_ALIAS)
        if existing is None:
            self.calls.call(
                "creating the canary alias",
                self.aws.lambda_.create_alias,
                FunctionName=self.function,
                Name=CANARY_ALIAS,
                FunctionVersion=version,
            )
        else:
            self.calls.call(
                "updating the canary alias",
                self.aws.lambda_.update_alias,
                FunctionName=self.function,
                Name=CANARY_ALIAS,
                FunctionVersion=version,
                RoutingConfig={"AdditionalVersionWeights": {}},
            )
        self.endpoints.ensure_url(auth, CANARY_ALIAS)
        if self.verify is None:
            return
        url = self.endpoints.url(CANARY_ALIAS) or ""
        try:
            self.verify(url)
        except NfldeployError as exc:
            serving = f"alias {ALIAS} still serves version {live['FunctionVersion']} (100 %)" if live else ""
            try:
                left = self._restore_canary(live)
            except NfldeployError as cleanup:
                left = f"; its URL {url} could not be removed: {cleanup.message}"
            raise CanaryCheckFailed(
                f"the canary {self.function}:{version} failed its check at {url} and got no traffic; "
                f"{serving}: {exc.message}{left}"
            ) from exc

    def _canary_stopped(self, exc: NfldeployError, version: str) -> DeployError:
        """A call failed between the canary's URL and live's weights: the canary ended again (or back on what
        live routes to, read anew: the failed update may have been made), so no URL stays open on a version
        that takes no traffic; the error names the call that failed."""
        try:
            left = self._restore_canary(self._alias())
            done = left or f"; the canary's URL and alias were removed, version {version} takes no traffic"
        except NfldeployError as cleanup:
            done = f"; the canary's URL could not be removed: {cleanup.message}"
        return DeployError(
            f"{exc.message}{done}", hint=exc.hint or "Deploy again: its plan shows what it found half-done."
        )

    def _restore_canary(self, live: dict[str, Any] | None) -> str:
        """After a failed check: the canary alias back on the version live still routes a weight to (an
        earlier canary, still in flight), else the canary ended (its URL, its grants, the alias), so no URL
        stays open on a version that takes no traffic. What was done, for the error."""
        weighted = [v for v in self._weights(live) if live and v != live["FunctionVersion"]]
        if not weighted:
            self.endpoints.end_canary(CANARY_ALIAS)
            return ""
        self.calls.call(
            "pointing the canary alias back",
            self.aws.lambda_.update_alias,
            FunctionName=self.function,
            Name=CANARY_ALIAS,
            FunctionVersion=weighted[0],
            RoutingConfig={"AdditionalVersionWeights": {}},
        )
        return f"; the canary alias is back on version {weighted[0]}, still in flight"

    def _deployment(self, alias: dict[str, Any], previous: str | None, changed: bool = True) -> Deployment:
        weights = self._weights(alias)
        newest = max(weights, key=int)
        return Deployment(
            self.name,
            self.function,
            self.endpoints.endpoint_url() or "",
            f"{self.function}:{newest}",
            self._image_uri(newest),  # what the version it reports runs, not $LATEST (another release's)
            {f"{self.function}:{v}": pct for v, pct in weights.items()},
            f"{self.function}:{previous}" if previous and previous != newest else None,
            changed,
        )

    def _image_uri(self, version: str | None = None) -> str:
        """The image ``version`` runs ($LATEST's without one)."""
        qualifier = {"Qualifier": version} if version else {}
        found = self.calls.call(
            "reading the function", self.aws.lambda_.get_function, FunctionName=self.function, **qualifier
        )
        return str(found.get("Code", {}).get("ImageUri", ""))

    # -- promote, status, rollback ---------------------------------------------------------------------
    def plan_promote(self) -> Plan:
        """Give the canary version (the alias's weighted one) all traffic."""
        alias = self._alias()
        weights = self._weights(alias)
        if alias is None:
            raise DeployError(f"{self.function} has no alias {ALIAS}", hint="Deploy it first.")
        newest = str(max(numbered(self._versions()), default=0))  # every page: the newest may be past 50
        actions: list[Action] = []
        if len(weights) < 2:
            if weights != {newest: 100}:
                raise DeployError(
                    f"{self.function} has no canary to promote", hint="Deploy with --canary PCT first."
                )
            # the newest version already serves everything (e.g. the first deploy): no traffic moves
            promote, serving, previous = None, newest, self._previous(alias)
        else:
            promote = max(weights, key=int)
            serving, previous = promote, alias["FunctionVersion"]
            actions.append(Action("alias", ALIAS, f"version {promote} 100 %"))
        aliases = self._aliases()
        if CANARY_ALIAS in aliases or CANARY_ALIAS in self.endpoints.url_configs():
            actions.append(
                Action("end_canary", CANARY_ALIAS, "delete its function URL, its public grants and the alias")
            )
        retire, action = self._retirement(aliases, self.keep_versions, False, serving, previous)
        if action is not None:
            actions.append(action)
        spec = LambdaPromoteSpec(promote, retire)
        return Plan(self.name, self.function, self._image_uri(), tuple(actions), spec)

    def status(self) -> Status:
        function = self._function()
        alias = self._alias() if function else None
        weights = self._weights(alias)
        versions: list[dict[str, Any]] = []
        if function is not None:
            versions = self._versions()
        image = self._image_uri() if function else ""
        canary = self._alias(CANARY_ALIAS) if len(weights) > 1 else None  # a canary in flight
        unreleased = self._unreleased(versions, weights, self._previous(alias))
        note = (
            f"version {spans(tuple(unreleased))} took no traffic: its canary check failed or its deploy stopped "
            "part-way; the next deploy finishes or replaces it"
            if unreleased
            else None
        )
        return Status(
            self.name,
            self.function,
            self.endpoints.endpoint_url() if alias else None,
            f"{self.function}:{alias['FunctionVersion']}" if alias else None,
            {f"{self.function}:{v}": pct for v, pct in weights.items()},
            [
                Revision(
                    f"{self.function}:{v['Version']}",
                    "serving"
                    if v["Version"] in weights
                    else "unreleased"
                    if v["Version"] in unreleased
                    else v.get("State", "ready").lower(),
                    image if v.get("Description", "") == (function or {}).get("Description") else "",
                    int(v["Version"]),
                )
                for v in versions
            ],
            canary_url=self.endpoints.url(CANARY_ALIAS) if canary else None,
            note=note,
        )

    @staticmethod
    def _unreleased(
        versions: list[dict[str, Any]], weights: dict[str, int], previous: str | None
    ) -> list[str]:
        """Versions published after every one that takes traffic that never took any: a canary that failed its
        check, or a deploy that stopped before the alias moved (a rolled-back one is the alias's previous)."""
        newest = max((int(v) for v in weights), default=0)
        return [
            str(v["Version"])
            for v in versions
            if int(v["Version"]) > newest
            and str(v["Version"]) not in weights
            and str(v["Version"]) != previous
        ]

    def rollback(self) -> Deployment:
        alias = self._alias()
        if alias is None:
            raise DeployError(f"{self.function} has no alias {ALIAS} to roll back")
        weights = self._weights(alias)
        serving = alias["FunctionVersion"]
        if len(weights) > 1:  # a canary in flight: the serving version takes everything back
            target = serving
        else:
            description = alias.get("Description", "")
            target = (
                description.removeprefix(PREVIOUS_PREFIX) if description.startswith(PREVIOUS_PREFIX) else ""
            )
            if not target:
                raise DeployError(f"no previous version of {self.function} to roll back to")
        updated = self.calls.call(
            "updating the alias",
            self.aws.lambda_.update_alias,
            FunctionName=self.function,
            Name=ALIAS,
            FunctionVersion=target,
            RoutingConfig={"AdditionalVersionWeights": {}},
            Description=f"{PREVIOUS_PREFIX}{serving}" if target != serving else alias.get("Description", ""),
        )
        try:  # no canary is in flight after a rollback: its URL, grants and alias go
            self.endpoints.end_canary(CANARY_ALIAS)
        except NfldeployError as exc:
            raise DeployError(
                f"{self.function} rolled back: alias {ALIAS} serves version {target} (100 %), but the canary's "
                f"function URL could not be removed: {exc.message}",
                hint="Deploy again without --canary (its plan shows end_canary), or delete the URL and the alias.",
            ) from exc
        return self._deployment(dict(updated), serving if target != serving else max(weights, key=int))

    # -- logs ------------------------------------------------------------------------------------------
    def logs(self, query: LogQuery) -> Iterator[LogEntry]:
        """The function's CloudWatch Logs group; each stream's ``[VERSION]`` names the version that wrote it.
        CloudWatch answers oldest first, so the last ``limit`` lines are looked for in the newest minutes
        first, then wider windows up to ``since``: a busy function's day is not read for 100 lines.
        ``follow`` starts from now and polls every 2 s for newer events."""
        if query.follow:
            return admitted(self._follow(query), query)
        now = datetime.now(UTC)
        since = query.since or now - LOG_WINDOWS[-1]
        found: list[LogEntry] = []
        for window in (*LOG_WINDOWS, None):  # None: all of it, back to since
            start = since if window is None else max(since, now - window)
            found = select(self._log_events(int(start.timestamp() * 1000), query), query)
            if start <= since or (query.limit > 0 and len(found) >= query.limit):
                break
        return iter(found)

    def _log_events(self, start: int | None, query: LogQuery) -> list[LogEntry]:
        if self.aws.logs is None:
            raise ConfigError("no CloudWatch Logs client was given to the Lambda target")
        kwargs: dict[str, Any] = {"logGroupName": log_group(self.function)}
        if start is not None:
            kwargs["startTime"] = start
        if query.request_id:
            kwargs["filterPattern"] = f'"{query.request_id}"'
        events = self.calls.pages(
            "reading the logs",
            self.aws.logs,
            "filter_log_events",
            "events",
            "ResourceNotFoundException",
            **kwargs,
        )
        return [self._entry(event) for event in events or []]  # None: no log group yet, it never ran

    def _follow(self, query: LogQuery) -> Iterator[LogEntry]:
        def fetch(since: datetime | None) -> list[LogEntry]:
            return self._log_events(int(since.timestamp() * 1000), query) if since else []

        return poll(fetch, datetime.now(UTC))  # like tail -f: what arrives from now on

    def _entry(self, event: dict[str, Any]) -> LogEntry:
        """A CloudWatch event; its stream (``YYYY/MM/DD/[VERSION]id``) names the version."""
        stream = str(event.get("logStreamName", ""))
        version = stream.split("[", 1)[1].split("]", 1)[0] if "[" in stream and "]" in stream else "?"
        when = datetime.fromtimestamp(int(event.get("timestamp", 0)) / 1000, UTC)
        return parse_line(str(event.get("message", "")), f"{self.function}:{version}", when)
