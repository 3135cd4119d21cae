"""``nfldeploy bootstrap --target lambda``: what a Lambda deploy runs on and the narrow deployer may not make,
made once with admin credentials (as ``cdk bootstrap`` and ``sam pipeline bootstrap`` do): the execution role
(trust lambda.amazonaws.com; its own log group, the API keys secret), the ECR repository (scan on push, Lambda
may pull from it), the log group with its retention, and behind ``lambda_endpoint = "api_gateway"`` the HTTP
API. Plan is data, as deploy's; a second run plans nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from nfldeploy.cloud.aws import AwsCalls, AwsClients, is_arn_of, partition_of
from nfldeploy.cloud.lambda_deployer import API_TAG, execution_role_name, execution_role_policy
from nfldeploy.errors import ConfigError
from nfldeploy.render.limits import check_lambda
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.base import Action, Plan, PlanSpec
from nfldeploy.targets.lambda_endpoints import ALIAS, LambdaEndpoints, check_api_auth, check_url_auth

#: The one inline policy of the execution role (aws/execution-role-policy.json).
ROLE_POLICY = "nfldeploy-execution"
#: What older nfldeploy deploys gave the role, removed by bootstrap: the managed logs policy (every log group
#: of the account) and the inline secret grant (now part of ROLE_POLICY).
LEGACY_MANAGED = "arn:{partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
LEGACY_INLINE = "read-api-keys"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
#: The repository policy statement that lets Lambda pull the function's image. A function's creator needs
#: ecr:SetRepositoryPolicy for Lambda to add it itself; with it in place the deployer needs neither
#: (https://repost.aws/knowledge-center/lambda-ecr-image, https://docs.aws.amazon.com/lambda/latest/dg/images-create.html).
PULL_SID = "NfldeployLambdaPull"
BOOTSTRAP_HINT = (
    "Run nfldeploy bootstrap --target lambda once with admin credentials (same settings), then deploy."
)


def log_group(function: str) -> str:
    """The CloudWatch Logs group Lambda writes a function's output to."""
    return f"/aws/lambda/{function}"


def needs_bootstrap(what: str) -> ConfigError:
    """The error of a deploy that finds ``what`` missing: nothing was changed, bootstrap makes it."""
    return ConfigError(f"{what}; nothing was changed", hint=BOOTSTRAP_HINT)


def pull_statement(function_arn: str) -> dict[str, Any]:
    """Lambda may pull images for this function only (aws:SourceArn: the function, or a version/alias)."""
    return {
        "Sid": PULL_SID,
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        "Condition": {"ArnLike": {"aws:SourceArn": [function_arn, f"{function_arn}:*"]}},
    }


def with_pull_statement(existing: dict[str, Any] | None, function_arn: str) -> dict[str, Any]:
    """The repository policy ``existing`` (the user's statements kept) with nfldeploy's pull statement."""
    others = [s for s in (existing or {}).get("Statement", []) if s.get("Sid") != PULL_SID]
    return {"Version": "2012-10-17", "Statement": [*others, pull_statement(function_arn)]}


@dataclass(frozen=True)
class BootstrapSpec(PlanSpec):
    """What a bootstrap plan makes: names, the execution role's policy (the secret's full ARN, never its
    value), the log retention and the HTTP API's throttling (None: no HTTP API)."""

    role: str
    role_policy: dict[str, Any]
    repository: str
    log_group: str
    retention_days: int
    secret: str | None
    throttling: dict[str, float] | None = None
    legacy_managed: tuple[str, ...] = ()
    legacy_inline: tuple[str, ...] = ()


@dataclass
class Bootstrapped:
    """What a bootstrap left in place."""

    role_arn: str
    repository_uri: str
    log_group: str
    secret: str | None
    api_id: str | None = None
    changed: bool = True

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


class LambdaBootstrap:
    """The resources of the Lambda function ``function`` that deploy does not make."""

    name = "lambda"

    def __init__(
        self, clients: AwsClients, function: str, region: str, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.aws, self.function, self.region = clients, function, region
        self.calls = AwsCalls(function, sleep)
        self.role = execution_role_name(function)

    # -- reading ---------------------------------------------------------------------------------------
    def full_secret_arn(self, arn: str | None) -> str:
        """The full ARN of the API keys secret ``arn`` (a partial one is completed with DescribeSecret)."""
        if not arn or not is_arn_of(arn, "secretsmanager"):
            raise ConfigError(
                "auth on Lambda needs api_keys_secret set to a Secrets Manager secret ARN",
                hint="Its full ARN, with the six characters Secrets Manager adds: "
                "arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf (aws secretsmanager describe-secret).",
            )
        if self.aws.secrets is None:
            raise ConfigError("no Secrets Manager client was given to the Lambda bootstrap")
        found = self.calls.get(
            "reading the API keys secret",
            self.aws.secrets.describe_secret,
            "ResourceNotFoundException",
            SecretId=arn,
        )
        if found is None:
            raise ConfigError(
                f"the API keys secret {arn} does not exist; nothing was changed",
                hint="Create it first, or give its full ARN as describe-secret shows it: "
                "arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf.",
            )
        return str(found["ARN"])

    def _role(self) -> dict[str, Any] | None:
        found = self.calls.get("reading the role", self.aws.iam.get_role, "NoSuchEntity", RoleName=self.role)
        return None if found is None else dict(found["Role"])

    def _role_policy(self) -> dict[str, Any] | None:
        found = self.calls.get(
            "reading the role's policy",
            self.aws.iam.get_role_policy,
            "NoSuchEntity",
            RoleName=self.role,
            PolicyName=ROLE_POLICY,
        )
        return None if found is None else dict(found["PolicyDocument"])

    def _legacy(self, partition: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """What an older nfldeploy attached to the role (managed policy ARNs, inline policy names)."""
        attached = self.calls.call(
            "listing the role's managed policies",
            lambda: [
                policy["PolicyArn"]
                for page in self.aws.iam.get_paginator("list_attached_role_policies").paginate(
                    RoleName=self.role
                )
                for policy in page["AttachedPolicies"]
            ],
        )
        inline = self.calls.call(
            "listing the role's inline policies",
            lambda: [
                name
                for page in self.aws.iam.get_paginator("list_role_policies").paginate(RoleName=self.role)
                for name in page["PolicyNames"]
            ],
        )
        managed = LEGACY_MANAGED.format(partition=partition)
        return (
            tuple(arn for arn in attached if arn == managed),
            tuple(name for name in inline if name == LEGACY_INLINE),
        )

    def _repository(self, name: str) -> dict[str, Any] | None:
        found = self.calls.pages(  # DescribeRepositories can paginate: through its paginator
            "reading the ECR repository",
            self.aws.ecr,
            "describe_repositories",
            "repositories",
            "RepositoryNotFoundException",
            repositoryNames=[name],
        )
        return dict(found[0]) if found else None

    def _repository_policy(self, name: str) -> dict[str, Any] | None:
        found = self.calls.get(
            "reading the repository policy",
            self.aws.ecr.get_repository_policy,
            "RepositoryPolicyNotFoundException",
            repositoryName=name,
        )
        return None if found is None else dict(json.loads(found["policyText"]))

    def _log_group(self) -> dict[str, Any] | None:
        if self.aws.logs is None:
            raise ConfigError("no CloudWatch Logs client was given to the Lambda bootstrap")
        name = log_group(self.function)
        groups = self.calls.call(
            "reading the log group",
            lambda: [
                group
                for page in self.aws.logs.get_paginator("describe_log_groups").paginate(
                    logGroupNamePrefix=name
                )
                for group in page["logGroups"]
            ],
        )
        return next((dict(g) for g in groups if g["logGroupName"] == name), None)

    def _api(self) -> dict[str, Any] | None:
        return LambdaEndpoints(self.aws, self.calls, self.function, self.region, "api_gateway").api()

    def _function_arn(self, role_arn: str) -> str:
        account = role_arn.split(":")[4]
        return f"arn:{partition_of(role_arn)}:lambda:{self.region}:{account}:function:{self.function}"

    # -- plan ------------------------------------------------------------------------------------------
    def plan(self, settings: DeploySettings) -> Plan:
        """What would be created or changed (nothing on a second run); impossible settings are refused
        first, as deploy refuses them."""
        check_lambda(settings)
        if settings.lambda_endpoint == "api_gateway":
            check_api_auth(settings)
        else:
            check_url_auth(settings)
        secret = self.full_secret_arn(settings.api_keys_secret) if settings.auth else None
        wanted = execution_role_policy(self.region, self.function, secret)
        actions: list[Action] = []
        role = self._role()
        if role is None:
            actions.append(
                Action("create_role", self.role, "execution role, trusted by lambda.amazonaws.com")
            )
        elif not _same(role.get("AssumeRolePolicyDocument"), TRUST):
            actions.append(Action("role_trust", self.role, "trusted by lambda.amazonaws.com only"))
        legacy: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        if role is None or not _same(self._role_policy(), wanted):
            reads = f"; reads the secret {secret}" if secret else ""
            if secret and settings.api_keys_secret != secret:
                reads += f" (completed from {settings.api_keys_secret})"
            actions.append(Action("role_policy", ROLE_POLICY, f"its own log group only{reads}"))
        if role is not None:
            legacy = self._legacy(partition_of(role["Arn"]))
            actions += [
                Action("detach_policy", arn, "logs of every group: more than needed") for arn in legacy[0]
            ]
            actions += [
                Action("delete_role_policy", name, f"replaced by {ROLE_POLICY}") for name in legacy[1]
            ]
        repository = self._repository(settings.repository)
        if repository is None:
            actions.append(Action("create_repository", settings.repository, "ECR, scan on push"))
        elif not repository.get("imageScanningConfiguration", {}).get("scanOnPush"):
            actions.append(Action("scan_on_push", settings.repository, "turn on scan on push"))
        policy = self._repository_policy(settings.repository) if repository is not None else None
        if (
            role is None
            or policy is None
            or not _same(with_pull_statement(policy, self._function_arn(role["Arn"])), policy)
        ):
            actions.append(
                Action("repository_policy", settings.repository, f"Lambda may pull, for {self.function} only")
            )
        group = self._log_group()
        days = settings.log_retention_days
        if group is None:
            actions.append(Action("create_log_group", log_group(self.function), f"retention {days} days"))
        elif group.get("retentionInDays") != days:
            actions.append(Action("log_retention", log_group(self.function), f"retention {days} days"))
        throttling = None
        if settings.lambda_endpoint == "api_gateway":
            throttling = {"rate": settings.rate_limit_rps, "burst": settings.rate_limit_burst}
            if self._api() is None:
                detail = (
                    f"HTTP API tagged {API_TAG}={self.function}: $default route to alias {ALIAS} (payload 2.0), "
                    f"$default stage throttled at {settings.rate_limit_rps:g} rps (burst {settings.rate_limit_burst})"
                )
                actions.append(Action("create_http_api", self.function, detail))
        spec = BootstrapSpec(
            role=self.role,
            role_policy=wanted,
            repository=settings.repository,
            log_group=log_group(self.function),
            retention_days=days,
            secret=secret,
            throttling=throttling,
            legacy_managed=legacy[0],
            legacy_inline=legacy[1],
        )
        return Plan(self.name, self.function, "(bootstrap)", tuple(actions), spec)

    # -- apply -----------------------------------------------------------------------------------------
    def apply(self, plan: Plan) -> Bootstrapped:
        """Make what the plan says, in dependency order; each step can run again."""
        spec = plan.spec_as(BootstrapSpec)
        kinds = {action.kind for action in plan.actions}
        iam, ecr = self.aws.iam, self.aws.ecr
        if "create_role" in kinds:
            self.calls.call(
                "creating the execution role",
                iam.create_role,
                RoleName=spec.role,
                AssumeRolePolicyDocument=json.dumps(TRUST),
                Description=f"Execution role of the Lambda function {self.function} (nfldeploy)",
            )
        if "role_trust" in kinds:
            self.calls.call(
                "updating the role's trust",
                iam.update_assume_role_policy,
                RoleName=spec.role,
                PolicyDocument=json.dumps(TRUST),
            )
        if "role_policy" in kinds:
            self.calls.call(
                "writing the role's policy",
                iam.put_role_policy,
                RoleName=spec.role,
                PolicyName=ROLE_POLICY,
                PolicyDocument=json.dumps(spec.role_policy),
            )
        for arn in spec.legacy_managed if "detach_policy" in kinds else ():
            self.calls.call("detaching a policy", iam.detach_role_policy, RoleName=spec.role, PolicyArn=arn)
        for name in spec.legacy_inline if "delete_role_policy" in kinds else ():
            self.calls.call("deleting a policy", iam.delete_role_policy, RoleName=spec.role, PolicyName=name)
        role_arn = str(self._role_or_fail()["Arn"])
        if "create_repository" in kinds:
            self.calls.call(
                "creating the ECR repository",
                ecr.create_repository,
                repositoryName=spec.repository,
                imageScanningConfiguration={"scanOnPush": True},
            )
        if "scan_on_push" in kinds:
            self.calls.call(
                "turning on scan on push",
                ecr.put_image_scanning_configuration,
                repositoryName=spec.repository,
                imageScanningConfiguration={"scanOnPush": True},
            )
        if "repository_policy" in kinds:
            policy = with_pull_statement(
                self._repository_policy(spec.repository), self._function_arn(role_arn)
            )
            self.calls.call(
                "letting Lambda pull from the repository",
                ecr.set_repository_policy,
                repositoryName=spec.repository,
                policyText=json.dumps(policy),
            )
        if "create_log_group" in kinds:
            self.calls.get(
                "creating the log group",
                self.aws.logs.create_log_group,
                "ResourceAlreadyExistsException",
                logGroupName=spec.log_group,
            )
        if kinds & {"create_log_group", "log_retention"}:
            self.calls.call(
                "setting the log retention",
                self.aws.logs.put_retention_policy,
                logGroupName=spec.log_group,
                retentionInDays=spec.retention_days,
            )
        api_id = None
        if spec.throttling is not None:
            api = self._api() if "create_http_api" not in kinds else None
            api_id = str(api["ApiId"]) if api else self._create_api(role_arn, spec.throttling)
        repository = self._repository(spec.repository) or {}
        return Bootstrapped(
            role_arn,
            str(repository.get("repositoryUri", "")),
            spec.log_group,
            spec.secret,
            api_id,
            not plan.empty,
        )

    def _role_or_fail(self) -> dict[str, Any]:
        role = self._role()
        if role is None:
            raise needs_bootstrap(f"the execution role {self.role} is missing")
        return role

    def _create_api(self, role_arn: str, throttling: dict[str, float]) -> str:
        """An HTTP API whose $default route proxies to alias live (payload 2.0, as a function URL sends) and
        whose $default stage is auto-deployed with the throttling; the API and the stage carry the service's
        tag, which the deployer's policy is conditioned on. Deploy adds Lambda's invoke grant."""
        gateway = self.aws.apigateway
        tags = {API_TAG: self.function}
        routes = {"ThrottlingRateLimit": throttling["rate"], "ThrottlingBurstLimit": throttling["burst"]}
        api = self.calls.call(
            "creating the HTTP API",
            gateway.create_api,
            Name=self.function,
            ProtocolType="HTTP",
            Description=f"nfldeploy: the inference API of {self.function}",
            Tags=tags,
        )
        integration = self.calls.call(
            "creating the Lambda integration",
            gateway.create_integration,
            ApiId=api["ApiId"],
            IntegrationType="AWS_PROXY",
            IntegrationUri=f"{self._function_arn(role_arn)}:{ALIAS}",
            PayloadFormatVersion="2.0",
        )
        self.calls.call(
            "creating the $default route",
            gateway.create_route,
            ApiId=api["ApiId"],
            RouteKey="$default",
            Target=f"integrations/{integration['IntegrationId']}",
        )
        self.calls.call(
            "creating the $default stage",
            gateway.create_stage,
            ApiId=api["ApiId"],
            StageName="$default",
            AutoDeploy=True,
            DefaultRouteSettings=routes,
            Tags=tags,
        )
        return str(api["ApiId"])
