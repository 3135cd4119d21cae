"""AWS Lambda target: the only module that imports boto3.

A deploy ensures the ECR repository (scan on push) and the execution role, pushes the Lambda image when it
is not in ECR yet, creates or updates the image function and waits with boto3's waiters, publishes a version
and points the alias ``live`` at it (a canary: weighted routing between the serving version and the new
one), and serves the alias through a function URL. The function's description carries a hash of its
spec, so an unchanged image and settings give an empty plan. The API keys reach the function as the ARN of
a Secrets Manager secret that the handler reads at init; only the ARN is ever shown.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nfldeploy.errors import ConfigError, DeployError, NfldeployError, PushError
from nfldeploy.render.limits import check_lambda
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.base import Action, Deployment, Plan

ALIAS = "live"
CANARY_ALIAS = "canary"  # the new version alone, with its own function URL, checked before it gets traffic
SPEC_PREFIX = "nfldeploy spec "
PREVIOUS_PREFIX = "previous version "
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
SECRET_ENV = "NFLDEPLOY_API_KEYS_SECRET_ARN"
PUBLIC_URL_STATEMENT = "nfldeploy-public-url"
API_STATEMENT = "nfldeploy-api-gateway"
API_TAG = "nfldeploy-service"
MANIFEST_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
]
#: Seconds between attempts while a new execution role propagates (IAM is eventually consistent: Lambda
#: refuses a role it cannot assume yet for several seconds after create_role).
ROLE_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0)


def credential_source() -> str | None:
    """How the standard AWS chain finds credentials ("env", "shared-credentials-file", ...), or None.

    Never returns the credentials themselves.
    """
    try:
        import boto3
    except ImportError:  # pragma: no cover - the cloud extra is missing
        return None
    credentials = boto3.Session().get_credentials()
    return None if credentials is None else str(credentials.method)


def ecr_login(region: str, client: Any | None = None) -> dict[str, str]:
    """Registry credentials from ECR's authorization token (the standard AWS chain; AWS_ENDPOINT_URL is
    honoured). Never written anywhere: handed to the push only."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        ecr = client or boto3.client("ecr", region_name=region)
        data = ecr.get_authorization_token()["authorizationData"][0]
    except (BotoCoreError, ClientError) as exc:
        raise PushError(
            f"cannot get an ECR token in {region}: {exc}", hint="Check the AWS credentials and region."
        ) from exc
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return {"username": username, "password": password}


@dataclass(frozen=True)
class AwsClients:
    """The boto3 clients the target uses (injected, so tests can hand in stubbed ones)."""

    lambda_: Any
    ecr: Any
    iam: Any
    apigateway: Any = None  # apigatewayv2, for lambda_endpoint = "api_gateway"


def aws_clients(region: str) -> AwsClients:
    """Clients from the standard AWS credential chain."""
    import boto3
    from botocore.exceptions import NoRegionError

    try:
        session = boto3.Session(region_name=region)
        return AwsClients(
            session.client("lambda"),
            session.client("ecr"),
            session.client("iam"),
            session.client("apigatewayv2"),
        )
    except NoRegionError as exc:  # pragma: no cover - region always given
        raise ConfigError(str(exc)) from exc


def _docker_push(region: str, ecr: Any) -> Callable[[str, str], str]:
    """Push a local image as exactly ``reference`` (an ECR repository URI and tag) with an ECR token."""

    def push(image: str, reference: str) -> str:
        from nfldeploy.image.engine import connect
        from nfldeploy.image.push import push_image

        _, digest = push_image(connect(), image, auth=ecr_login(region, ecr), destination=reference)
        return digest

    return push


def _local_image_id(image: str) -> str:
    """The image id (its config digest) of a local image, from the Docker engine."""
    from nfldeploy.image.engine import connect, image_id

    return image_id(connect(), image)


def canary_url_auth(settings: DeploySettings) -> str:
    """The auth of the canary alias's function URL: the live URL's; behind an HTTP API (no live URL), public
    when API keys guard the service, else IAM."""
    if settings.lambda_endpoint == "api_gateway":
        return "NONE" if settings.auth else "AWS_IAM"
    return settings.function_url_auth


def _role_not_ready(exc: Exception) -> bool:
    """Lambda's answer while a new role has not propagated yet."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    error = exc.response.get("Error", {})
    return (
        error.get("Code") == "InvalidParameterValueException" and "role" in str(error.get("Message")).lower()
    )


SPEC_KEYS = ("digest", "memory", "timeout", "env", "arch", "role")


def _spec_hash(spec: dict[str, Any]) -> str:
    """What the function's description records: the image digest and the settings it runs with."""
    return hashlib.sha256(json.dumps({k: spec[k] for k in SPEC_KEYS}, sort_keys=True).encode()).hexdigest()[
        :16
    ]


def _is_ecr(image: str) -> bool:
    return ".dkr.ecr." in image.split("/", 1)[0]


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
        local_image_id: Callable[[str], str] = _local_image_id,
        wait: bool = True,
        waiter_config: dict[str, int] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        verify: Callable[[str], None] | None = None,
        endpoint: str = "function_url",
    ) -> None:
        self.aws, self.function, self.region = clients, function, region
        self.push = push or _docker_push(region, clients.ecr)
        self.local_image_id = local_image_id
        self.wait = wait
        self.waiter_config = waiter_config or {"Delay": 2, "MaxAttempts": 150}
        self.sleep = sleep
        self.verify = verify  # checks a canary through its own alias's URL before it gets traffic
        self.endpoint = endpoint  # how callers reach alias live: "function_url" or "api_gateway"

    # -- calls -----------------------------------------------------------------------------------------
    def _error(self, what: str, exc: Exception) -> DeployError:
        from botocore.exceptions import ClientError, NoCredentialsError

        if isinstance(exc, NoCredentialsError):
            return DeployError(
                f"AWS {what} for {self.function} failed: no AWS credentials found",
                hint="Set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or assume a role (OIDC in CI).",
            )
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            denied = error.get("Code") in (
                "AccessDeniedException",
                "AccessDenied",
                "UnrecognizedClientException",
            )
            return DeployError(
                f"AWS {what} for {self.function} failed: {error.get('Code')}: {error.get('Message')}",
                hint="Check the caller's IAM permissions." if denied else None,
            )
        return DeployError(f"AWS {what} for {self.function} failed: {exc}")

    def _call(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        return self._get(what, fn, "", **kwargs)

    def _call_while_role_propagates(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        """``fn(**kwargs)``, retried with backoff while Lambda cannot assume the execution role yet."""
        from botocore.exceptions import ClientError

        for delay in (*ROLE_RETRY_DELAYS, None):
            try:
                return fn(**kwargs)
            except ClientError as exc:
                if delay is None or not _role_not_ready(exc):
                    raise self._error(what, exc) from exc
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _get(self, what: str, fn: Callable[..., Any], missing: str, **kwargs: Any) -> Any | None:
        """``fn(**kwargs)``, or None when AWS answers ``missing`` (e.g. ResourceNotFoundException); any other
        failure is a DeployError naming the function and quoting AWS."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            if missing and exc.response.get("Error", {}).get("Code") == missing:
                return None
            raise self._error(what, exc) from exc
        except BotoCoreError as exc:
            raise self._error(what, exc) from exc

    def _wait(self, waiter: str, what: str, alias: dict[str, Any] | None) -> None:
        from botocore.exceptions import WaiterError

        try:
            self.aws.lambda_.get_waiter(waiter).wait(
                FunctionName=self.function, WaiterConfig=self.waiter_config
            )
        except WaiterError as exc:
            reason = exc.last_response.get("Configuration", exc.last_response)
            detail = reason.get("StateReason") or reason.get("LastUpdateStatusReason") or str(exc)
            serving = (
                f"alias {ALIAS} still serves version {alias['FunctionVersion']} (100 %)"
                if alias
                else "nothing serves yet"
            )
            raise DeployError(f"Lambda {what} of {self.function} failed: {detail}; {serving}") from exc

    # -- state -----------------------------------------------------------------------------------------
    def _function(self) -> dict[str, Any] | None:
        found = self._get(
            "reading the function",
            self.aws.lambda_.get_function,
            "ResourceNotFoundException",
            FunctionName=self.function,
        )
        return None if found is None else dict(found["Configuration"])

    def _alias(self, name: str = ALIAS) -> dict[str, Any] | None:
        found = self._get(
            "reading the alias",
            self.aws.lambda_.get_alias,
            "ResourceNotFoundException",
            FunctionName=self.function,
            Name=name,
        )
        return None if found is None else dict(found)

    @staticmethod
    def _weights(alias: dict[str, Any] | None) -> dict[str, int]:
        if alias is None:
            return {}
        extra = {
            v: round(w * 100)
            for v, w in alias.get("RoutingConfig", {}).get("AdditionalVersionWeights", {}).items()
        }
        return {alias["FunctionVersion"]: 100 - sum(extra.values()), **extra}

    def _url_config(self, alias: str = ALIAS) -> dict[str, Any] | None:
        found = self._get(
            "reading the function URL",
            self.aws.lambda_.get_function_url_config,
            "ResourceNotFoundException",
            FunctionName=self.function,
            Qualifier=alias,
        )
        return None if found is None else dict(found)

    def _url(self, alias: str = ALIAS) -> str | None:
        config = self._url_config(alias)
        return None if config is None else str(config["FunctionUrl"])

    # -- what is wanted --------------------------------------------------------------------------------
    def _repository(self, settings: DeploySettings) -> dict[str, Any] | None:
        found = self._get(
            "reading the ECR repository",
            self.aws.ecr.describe_repositories,
            "RepositoryNotFoundException",
            repositoryNames=[settings.repository],
        )
        return None if found is None else dict(found["repositories"][0])

    def _ecr_digest(self, repository: str, image: str) -> str | None:
        ref = image.split("/", 1)[1] if "/" in image else image
        if "@" in ref:
            image_id = {"imageDigest": ref.split("@", 1)[1]}
        else:
            image_id = {"imageTag": ref.rsplit(":", 1)[1] if ":" in ref else "latest"}
        found = self._get(
            "reading the image",
            self.aws.ecr.describe_images,
            "ImageNotFoundException",
            repositoryName=repository,
            imageIds=[image_id],
        )
        return (
            None if not found or not found["imageDetails"] else str(found["imageDetails"][0]["imageDigest"])
        )

    def _pushed_digest(self, repository: str, image: str) -> str | None:
        """The ECR digest of ``image`` (a local image) when the repository already holds exactly it under its
        tag: the ECR manifest's config digest equals the local image id. None when it must be pushed."""
        from nfldeploy.image.push import split_reference

        local_id = self.local_image_id(image)
        tag = split_reference(image)[1]
        found = self._get(
            "reading the image",
            self.aws.ecr.batch_get_image,
            "ImageNotFoundException",
            repositoryName=repository,
            imageIds=[{"imageTag": tag}],
            acceptedMediaTypes=MANIFEST_TYPES,
        )
        for entry in (found or {}).get("images", []):
            try:
                config = json.loads(entry.get("imageManifest", "{}")).get("config", {})
            except ValueError:
                continue
            if config.get("digest") == local_id:
                return str(entry["imageId"]["imageDigest"])
        return None

    def _check_url_auth(self, settings: DeploySettings) -> None:
        """A public function URL (auth NONE) in front of a service without API keys is refused unless asked;
        API keys behind an AWS_IAM URL are refused too (both use the Authorization header: SigV4 would
        replace the bearer token)."""
        if settings.function_url_auth == "AWS_IAM" and settings.auth:
            raise ConfigError(
                "auth (API keys) with function_url_auth AWS_IAM cannot work: callers sign the Authorization "
                "header with SigV4, where the bearer token would go; nothing was changed",
                hint="Use IAM alone (auth = false), or API keys on a public URL (function_url_auth = NONE).",
            )
        if settings.function_url_auth == "NONE" and not settings.auth and not settings.allow_unauthenticated:
            raise ConfigError(
                "function_url_auth NONE without API keys (auth) would let anyone on the internet call the "
                "function; nothing was changed",
                hint="Keep function_url_auth = AWS_IAM (the default), set auth = true with api_keys_secret, "
                "or pass --allow-unauthenticated to make it public on purpose.",
            )

    def _check_api_auth(self, settings: DeploySettings) -> None:
        """The HTTP API is public: refused without API keys unless asked for."""
        if (
            settings.lambda_endpoint == "api_gateway"
            and not settings.auth
            and not settings.allow_unauthenticated
        ):
            raise ConfigError(
                "an API Gateway HTTP API without API keys (auth) would let anyone call the function; "
                "nothing was changed",
                hint="Set auth = true with api_keys_secret, or pass --allow-unauthenticated on purpose.",
            )

    def _api(self) -> dict[str, Any] | None:
        """The HTTP API nfldeploy made for this function (found by its tag)."""
        if self.aws.apigateway is None:
            raise ConfigError("no API Gateway client was given to the Lambda target")
        listed = self._call("listing the HTTP APIs", self.aws.apigateway.get_apis)
        for api in listed.get("Items", []):
            if api.get("Tags", {}).get(API_TAG) == self.function:
                return dict(api)
        return None

    def _api_throttling(self, api: dict[str, Any]) -> dict[str, Any]:
        stage = self._get(
            "reading the API's stage",
            self.aws.apigateway.get_stage,
            "NotFoundException",
            ApiId=api["ApiId"],
            StageName="$default",
        )
        routes = (stage or {}).get("DefaultRouteSettings", {})
        return {"rate": routes.get("ThrottlingRateLimit"), "burst": routes.get("ThrottlingBurstLimit")}

    def _env(self, settings: DeploySettings) -> dict[str, str]:
        env = settings.service_env()
        if settings.auth:
            arn = settings.api_keys_secret or ""
            if not arn.startswith("arn:aws:secretsmanager:"):
                raise ConfigError(
                    "auth on Lambda needs api_keys_secret set to a Secrets Manager secret ARN",
                    hint="e.g. arn:aws:secretsmanager:us-east-1:123456789012:secret:nfl-api-keys",
                )
            env[SECRET_ENV] = arn
        return env

    def _role_name(self) -> str:
        return f"{self.function}-nfldeploy"[:64]

    def plan(self, settings: DeploySettings, image: str, canary: int | None = None) -> Plan:
        if canary is not None and not 0 < canary < 100:
            raise ConfigError(f"--canary must be between 1 and 99, not {canary}")
        check_lambda(settings)  # impossible settings are refused before any call, naming the limit
        if settings.lambda_endpoint == "api_gateway":
            self._check_api_auth(settings)
        else:
            self._check_url_auth(settings)
        actions: list[Action] = []
        repository = self._repository(settings)
        if repository is None:
            actions.append(Action("ensure_repository", settings.repository, "create, scan on push"))
        elif not repository.get("imageScanningConfiguration", {}).get("scanOnPush"):
            actions.append(Action("ensure_repository", settings.repository, "turn on scan on push"))
        role = self._get(
            "reading the role", self.aws.iam.get_role, "NoSuchEntity", RoleName=self._role_name()
        )
        if role is None:
            actions.append(
                Action("role", self._role_name(), "execution role: logs, and reading the API keys secret")
            )
        if _is_ecr(image):
            digest = self._ecr_digest(settings.repository, image) if repository is not None else None
            if digest is None:
                raise DeployError(
                    f"{image} is not in the ECR repository {settings.repository}; nothing was changed",
                    hint="Push it first (nfldeploy push --auth ecr), or deploy a local image to push it.",
                )
            push_to = None
        else:
            digest = self._pushed_digest(settings.repository, image) if repository is not None else None
            push_to = None if digest is not None else image
            if push_to is not None:
                actions.append(Action("push", image, f"to ECR {settings.repository} with an ECR token"))
        env = self._env(settings)
        spec = {
            "digest": digest or f"local:{self.local_image_id(image)}",
            "memory": settings.memory_mib,
            "timeout": settings.timeout,
            "env": env,
            "arch": settings.lambda_architecture,
            "role": self._role_name(),
        }
        spec_hash = _spec_hash(spec)
        current = self._function()
        alias = self._alias()
        weights = self._weights(alias)
        unchanged = current is not None and current.get("Description", "") == SPEC_PREFIX + spec_hash
        if SECRET_ENV in env and not unchanged:
            actions.append(Action("secret_ref", SECRET_ENV, env[SECRET_ENV]))
        summary = (
            f"memory {settings.memory_mib} MiB, timeout {settings.timeout}s, {settings.lambda_architecture}"
        )
        if current is None:
            actions.append(Action("create_function", self.function, f"PackageType Image, {summary}"))
        elif not unchanged:
            actions.append(Action("update_function", self.function, f"code and configuration: {summary}"))
        if current is None or not unchanged:
            actions.append(Action("publish_version", self.function, "after the update is ready"))
            if canary is not None and alias is not None:
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
                        f"new version {canary} %, version {alias['FunctionVersion']} {100 - canary} %",
                    )
                )
            else:
                actions.append(Action("alias", ALIAS, "new version 100 %"))
        elif canary is None and len(weights) > 1:
            actions.append(Action("alias", ALIAS, "the canary version 100 %"))
        url = self._url_config() if alias is not None else None
        throttling = {"rate": settings.rate_limit_rps, "burst": settings.rate_limit_burst}
        if settings.lambda_endpoint == "api_gateway":
            api = self._api()
            if api is None or self._api_throttling(api) != throttling:
                verb = "create" if api is None else "update"
                actions.append(
                    Action(
                        "api_gateway",
                        self.function,
                        f"{verb} the HTTP API: Lambda proxy on alias {ALIAS}, $default stage throttled at "
                        f"{settings.rate_limit_rps:g} rps (burst {settings.rate_limit_burst})",
                    )
                )
            if url is not None:
                actions.append(Action("remove_function_url", ALIAS, "the HTTP API is the way in"))
        elif url is None or url["AuthType"] != settings.function_url_auth:
            actions.append(Action("function_url", ALIAS, f"auth {settings.function_url_auth}"))
        plan_spec = {
            **spec,
            "spec_hash": spec_hash,
            "push_to": push_to,
            "repository": settings.repository,
            "canary": canary if alias is not None else None,
            "url_auth": settings.function_url_auth,
            "canary_url_auth": canary_url_auth(settings),
            "throttling": throttling,
            "previous": alias["FunctionVersion"] if alias else None,
        }
        return Plan(self.name, self.function, image, tuple(actions), tuple(sorted(plan_spec.items())))

    # -- apply -----------------------------------------------------------------------------------------
    def apply(self, plan: Plan) -> Deployment:
        kinds = {a.kind for a in plan.actions}
        alias = self._alias()
        if dict(plan.spec).get("promote"):
            updated = self._point_alias(alias, plan.get("promote"), None)
            return self._deployment(updated, alias["FunctionVersion"] if alias else None)
        if plan.empty:
            if alias is None:
                raise DeployError(f"{self.function} has no alias {ALIAS} and the plan is empty; plan again")
            return self._deployment(alias, None, changed=False)
        repository = (
            self._ensure_repository(plan) if "ensure_repository" in kinds else self._repository_uri(plan)
        )
        role_arn = self._ensure_role(plan)
        if "push" in kinds:
            from nfldeploy.image.push import split_reference

            digest = self.push(plan.image, f"{repository}:{split_reference(plan.image)[1]}")
        else:
            digest = plan.get("digest")
        image_uri = f"{repository}@{digest}"
        config = {
            "Role": role_arn,
            "MemorySize": plan.get("memory"),
            "Timeout": plan.get("timeout"),
            "Environment": {"Variables": dict(plan.get("env"))},
            "Description": SPEC_PREFIX + _spec_hash({**dict(plan.spec), "digest": digest}),
        }
        version = alias["FunctionVersion"] if alias else None
        if "create_function" in kinds:
            self._call_while_role_propagates(
                "create",
                self.aws.lambda_.create_function,
                FunctionName=self.function,
                PackageType="Image",
                Code={"ImageUri": image_uri},
                Architectures=[plan.get("arch")],
                **config,
            )
            self._wait("function_active_v2", "create", alias)
        elif "update_function" in kinds:
            self._call(
                "code update",
                self.aws.lambda_.update_function_code,
                FunctionName=self.function,
                ImageUri=image_uri,
                Architectures=[plan.get("arch")],
            )
            self._wait("function_updated_v2", "code update", alias)
            self._call_while_role_propagates(
                "configuration update",
                self.aws.lambda_.update_function_configuration,
                FunctionName=self.function,
                **config,
            )
            self._wait("function_updated_v2", "configuration update", alias)
        if "publish_version" in kinds:
            version = self._call("publish", self.aws.lambda_.publish_version, FunctionName=self.function)[
                "Version"
            ]
        elif alias is not None:  # unchanged function, a canary in flight: the newest version takes all
            version = max(self._weights(alias), key=int)
        if "canary_alias" in kinds:
            assert version is not None
            self._check_canary(version, plan.get("canary_url_auth"), alias)
        if "alias" in kinds:
            alias = self._point_alias(alias, version, plan.get("canary"))
        if "function_url" in kinds:
            self._ensure_url(plan.get("url_auth"))
        if "remove_function_url" in kinds:
            self._remove_url()
        if "api_gateway" in kinds:
            self._ensure_api(plan.get("throttling"))
        assert alias is not None
        return self._deployment(alias, plan.get("previous"))

    def _repository_uri(self, plan: Plan) -> str:
        found = self._call(
            "reading the ECR repository",
            self.aws.ecr.describe_repositories,
            repositoryNames=[plan.get("repository")],
        )
        return str(found["repositories"][0]["repositoryUri"])

    def _ensure_repository(self, plan: Plan) -> str:
        name = plan.get("repository")
        existing = self._get(
            "reading the ECR repository",
            self.aws.ecr.describe_repositories,
            "RepositoryNotFoundException",
            repositoryNames=[name],
        )
        if existing is None:
            created = self._call(
                "creating the ECR repository",
                self.aws.ecr.create_repository,
                repositoryName=name,
                imageScanningConfiguration={"scanOnPush": True},
            )
            return str(created["repository"]["repositoryUri"])
        self._call(
            "turning on scan on push",
            self.aws.ecr.put_image_scanning_configuration,
            repositoryName=name,
            imageScanningConfiguration={"scanOnPush": True},
        )
        return str(existing["repositories"][0]["repositoryUri"])

    def _ensure_role(self, plan: Plan) -> str:
        name = plan.get("role")
        found = self._get("reading the role", self.aws.iam.get_role, "NoSuchEntity", RoleName=name)
        if found is None:
            found = self._call(
                "creating the execution role",
                self.aws.iam.create_role,
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(TRUST),
                Description=f"Execution role of the Lambda function {self.function} (nfldeploy)",
            )
            self._call(
                "attaching the logs policy",
                self.aws.iam.attach_role_policy,
                RoleName=name,
                PolicyArn=BASIC_EXECUTION,
            )
        secret = dict(plan.get("env")).get(SECRET_ENV)
        if secret:
            document = {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret}
                ],
            }
            self._call(
                "granting the secret",
                self.aws.iam.put_role_policy,
                RoleName=name,
                PolicyName="read-api-keys",
                PolicyDocument=json.dumps(document),
            )
        return str(found["Role"]["Arn"])

    def _point_alias(
        self, alias: dict[str, Any] | None, version: str | None, canary: int | None
    ) -> dict[str, Any]:
        if alias is None:
            return dict(
                self._call(
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
            self._call(
                "updating the alias",
                self.aws.lambda_.update_alias,
                FunctionName=self.function,
                Name=ALIAS,
                FunctionVersion=primary,
                RoutingConfig=routing,
                Description=description,
            )
        )

    def _check_canary(self, version: str, auth: str, live: dict[str, Any] | None) -> None:
        """Point the canary alias at ``version`` alone, give it a function URL, and check it there before
        the live alias routes any traffic to it."""
        existing = self._alias(CANARY_ALIAS)
        if existing is None:
            self._call(
                "creating the canary alias",
                self.aws.lambda_.create_alias,
                FunctionName=self.function,
                Name=CANARY_ALIAS,
                FunctionVersion=version,
            )
        else:
            self._call(
                "updating the canary alias",
                self.aws.lambda_.update_alias,
                FunctionName=self.function,
                Name=CANARY_ALIAS,
                FunctionVersion=version,
                RoutingConfig={"AdditionalVersionWeights": {}},
            )
        self._ensure_url(auth, CANARY_ALIAS)
        if self.verify is None:
            return
        url = self._url(CANARY_ALIAS) or ""
        try:
            self.verify(url)
        except NfldeployError as exc:
            serving = f"alias {ALIAS} still serves version {live['FunctionVersion']} (100 %)" if live else ""
            raise DeployError(
                f"the canary {self.function}:{version} failed its check at {url} and got no traffic; "
                f"{serving}: {exc.message}"
            ) from exc

    def _ensure_url(self, auth: str, alias: str = ALIAS) -> None:
        existing = self._url(alias)
        if existing is None:
            self._call(
                "creating the function URL",
                self.aws.lambda_.create_function_url_config,
                FunctionName=self.function,
                Qualifier=alias,
                AuthType=auth,
            )
        else:
            self._call(
                "updating the function URL",
                self.aws.lambda_.update_function_url_config,
                FunctionName=self.function,
                Qualifier=alias,
                AuthType=auth,
            )
        if auth != "NONE":  # no longer public: the permission that made it so goes too
            self._revoke_public(alias)
        else:
            self._get(
                "allowing public invocation",
                self.aws.lambda_.add_permission,
                "ResourceConflictException",
                FunctionName=self.function,
                Qualifier=alias,
                StatementId=PUBLIC_URL_STATEMENT,
                Action="lambda:InvokeFunctionUrl",
                Principal="*",
                FunctionUrlAuthType="NONE",
            )

    def _remove_url(self) -> None:
        self._get(
            "removing the function URL",
            self.aws.lambda_.delete_function_url_config,
            "ResourceNotFoundException",
            FunctionName=self.function,
            Qualifier=ALIAS,
        )
        self._revoke_public(ALIAS)

    def _revoke_public(self, alias: str) -> None:
        """Remove the permission that lets anyone invoke ``alias``'s function URL (if there is one)."""
        self._get(
            "removing public invocation",
            self.aws.lambda_.remove_permission,
            "ResourceNotFoundException",
            FunctionName=self.function,
            Qualifier=alias,
            StatementId=PUBLIC_URL_STATEMENT,
        )

    def _ensure_api(self, throttling: dict[str, Any]) -> None:
        """An HTTP API whose $default route proxies to alias live (payload 2.0, as a function URL sends),
        its $default stage auto-deployed with the throttling, and the permission to invoke the alias."""
        gateway = self.aws.apigateway
        routes = {"ThrottlingRateLimit": throttling["rate"], "ThrottlingBurstLimit": throttling["burst"]}
        api = self._api()
        if api is not None:
            self._call(
                "updating the API's throttling",
                gateway.update_stage,
                ApiId=api["ApiId"],
                StageName="$default",
                DefaultRouteSettings=routes,
            )
            return
        function = self._call(
            "reading the function", self.aws.lambda_.get_function, FunctionName=self.function
        )
        alias_arn = f"{function['Configuration']['FunctionArn']}:{ALIAS}"
        api = self._call(
            "creating the HTTP API",
            gateway.create_api,
            Name=self.function,
            ProtocolType="HTTP",
            Description=f"nfldeploy: the inference API of {self.function}",
            Tags={API_TAG: self.function},
        )
        integration = self._call(
            "creating the Lambda integration",
            gateway.create_integration,
            ApiId=api["ApiId"],
            IntegrationType="AWS_PROXY",
            IntegrationUri=alias_arn,
            PayloadFormatVersion="2.0",
        )
        self._call(
            "creating the $default route",
            gateway.create_route,
            ApiId=api["ApiId"],
            RouteKey="$default",
            Target=f"integrations/{integration['IntegrationId']}",
        )
        self._call(
            "creating the $default stage",
            gateway.create_stage,
            ApiId=api["ApiId"],
            StageName="$default",
            AutoDeploy=True,
            DefaultRouteSettings=routes,
        )
        account = alias_arn.split(":")[4]
        self._get(
            "letting the API invoke the function",
            self.aws.lambda_.add_permission,
            "ResourceConflictException",
            FunctionName=self.function,
            Qualifier=ALIAS,
            StatementId=API_STATEMENT,
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:{self.region}:{account}:{api['ApiId']}/*",
        )

    def _endpoint_url(self) -> str | None:
        """Where callers reach alias live: the HTTP API's endpoint, or the function URL."""
        if self.endpoint == "api_gateway":
            api = self._api()
            return None if api is None else str(api["ApiEndpoint"])
        return self._url()

    def _deployment(self, alias: dict[str, Any], previous: str | None, changed: bool = True) -> Deployment:
        weights = self._weights(alias)
        newest = max(weights, key=int)
        return Deployment(
            self.name,
            self.function,
            self._endpoint_url() or "",
            f"{self.function}:{newest}",
            self._image_uri(),
            {f"{self.function}:{v}": pct for v, pct in weights.items()},
            f"{self.function}:{previous}" if previous and previous != newest else None,
            changed,
        )

    def _image_uri(self) -> str:
        found = self._call("reading the function", self.aws.lambda_.get_function, FunctionName=self.function)
        return str(found.get("Code", {}).get("ImageUri", ""))

    # -- promote, status, rollback ---------------------------------------------------------------------
    def plan_promote(self) -> Plan:
        """Give the canary version (the alias's weighted one) all traffic."""
        alias = self._alias()
        weights = self._weights(alias)
        if alias is None:
            raise DeployError(f"{self.function} has no alias {ALIAS}", hint="Deploy it first.")
        published = self._call(
            "listing versions", self.aws.lambda_.list_versions_by_function, FunctionName=self.function
        )["Versions"]
        newest = str(max((int(v["Version"]) for v in published if v["Version"] != "$LATEST"), default=0))
        if len(weights) < 2:
            if weights != {newest: 100}:
                raise DeployError(
                    f"{self.function} has no canary to promote", hint="Deploy with --canary PCT first."
                )
            # the newest version already serves everything (e.g. the first deploy): nothing to do
            spec: dict[str, Any] = {"canary": None, "promote": None}
            return Plan(self.name, self.function, self._image_uri(), (), tuple(sorted(spec.items())))
        canary = max(weights, key=int)
        spec = {"canary": None, "promote": canary}
        actions = (Action("alias", ALIAS, f"version {canary} 100 %"),)
        return Plan(self.name, self.function, self._image_uri(), actions, tuple(sorted(spec.items())))

    def status(self) -> dict[str, Any]:
        function = self._function()
        alias = self._alias() if function else None
        weights = self._weights(alias)
        versions: list[dict[str, Any]] = []
        if function is not None:
            listed = self._call(
                "listing versions", self.aws.lambda_.list_versions_by_function, FunctionName=self.function
            )
            versions = [v for v in listed["Versions"] if v["Version"] != "$LATEST"]
        image = self._image_uri() if function else ""
        canary = self._alias(CANARY_ALIAS) if len(weights) > 1 else None  # a canary in flight
        return {
            "target": self.name,
            "service": self.function,
            "url": self._endpoint_url() if alias else None,
            "canary_url": self._url(CANARY_ALIAS) if canary else None,
            "serving": f"{self.function}:{alias['FunctionVersion']}" if alias else None,
            "traffic": {f"{self.function}:{v}": pct for v, pct in weights.items()},
            "revisions": [
                {
                    "name": f"{self.function}:{v['Version']}",
                    "state": "serving" if v["Version"] in weights else v.get("State", "ready").lower(),
                    "image": image if v.get("Description", "") == (function or {}).get("Description") else "",
                    "revision": int(v["Version"]),
                }
                for v in versions
            ],
        }

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
        updated = self._call(
            "updating the alias",
            self.aws.lambda_.update_alias,
            FunctionName=self.function,
            Name=ALIAS,
            FunctionVersion=target,
            RoutingConfig={"AdditionalVersionWeights": {}},
            Description=f"{PREVIOUS_PREFIX}{serving}" if target != serving else alias.get("Description", ""),
        )
        return self._deployment(dict(updated), serving if target != serving else max(weights, key=int))
