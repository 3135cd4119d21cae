"""``nfldeploy bootstrap --target lambda``: what a Lambda deploy runs on and the narrow deployer may not make,
made once with admin credentials (as ``cdk bootstrap`` and ``sam pipeline bootstrap`` do): the execution role
(trust lambda.amazonaws.com; its own log group, the API keys secret), the ECR repository (scan on push, Lambda
may pull from it), the log group with its retention, and behind ``lambda_endpoint = "api_gateway"`` the HTTP
API (``lambda_http_api``) with the role its integration invokes alias live as. Plan is data, as deploy's; a
second run plans nothing.

What bootstrap did not write and would widen what runs as the function is refused, not kept silently: a
managed or inline policy on the execution role other than its own (``--prune`` removes them), a repository
statement letting Lambda pull without naming the function (aws:SourceArn). A permissions boundary only
narrows what a role may do, so it is kept and shown. A run that stops part-way says what it made; the next
run finds it and finishes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from nfldeploy.cloud.aws import AwsCalls, AwsClients, is_arn_of, partition_of
from nfldeploy.cloud.lambda_deployer import (
    API_TRUST,
    api_role_name,
    api_role_policy,
    execution_role_name,
    execution_role_policy,
    partition_of_region,
)
from nfldeploy.errors import ConfigError, DeployError, NfldeployError
from nfldeploy.render.limits import check_lambda
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.base import Action, Plan, PlanSpec
from nfldeploy.targets.lambda_endpoints import check_api_auth, check_url_auth
from nfldeploy.targets.lambda_http_api import ApiRepairs, HttpApis, role_tags

#: The one inline policy of the execution role (aws/execution-role-policy.json), and of the API's role.
ROLE_POLICY = "nfldeploy-execution"
API_ROLE_POLICY = "nfldeploy-invoke-live"
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
RERUN_HINT = (
    "Run nfldeploy bootstrap --target lambda again with the same settings: it finds what was made and "
    "finishes (each step can run again)."
)
PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
#: Condition keys that tie a service principal's access to one resource or account (confused deputy:
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html).
SOURCE_KEYS = ("aws:sourcearn", "aws:sourceaccount", "aws:sourceorgid", "aws:sourceorgpaths")


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


def with_pull_statement(
    existing: dict[str, Any] | None, function_arn: str, drop: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The repository policy ``existing`` (the user's statements kept, but those ``drop`` names) with
    nfldeploy's pull statement."""
    statements = existing.get("Statement", []) if existing else []
    others = [
        s
        for i, s in enumerate(statements if isinstance(statements, list) else [statements])
        if s.get("Sid") != PULL_SID and _statement_name(s, i) not in drop
    ]
    return {"Version": "2012-10-17", "Statement": [*others, pull_statement(function_arn)]}


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value] if value is not None else []


def _statement_name(statement: dict[str, Any], index: int) -> str:
    return str(statement.get("Sid") or f"statement {index + 1}")


def unscoped_pulls(policy: dict[str, Any] | None) -> list[str]:
    """The repository statements (Sid, or position) that let lambda.amazonaws.com pull without a condition
    naming the function or the account (aws:SourceArn, aws:SourceAccount): any function of any account
    Lambda serves could run the image. Lambda writes one itself (LambdaECRImageRetrievalPolicy) when the
    function's creator may set repository policies, as the deployer of older nfldeploy versions could
    (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html)."""
    statements = _listed((policy or {}).get("Statement"))
    found = []
    for index, statement in enumerate(statements):
        if statement.get("Sid") == PULL_SID or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        services = _listed(principal.get("Service")) if isinstance(principal, dict) else []
        if principal != "*" and "lambda.amazonaws.com" not in services:
            continue
        actions = {str(a).lower() for a in _listed(statement.get("Action"))}
        if not actions & {"ecr:*", "*", *(a.lower() for a in PULL_ACTIONS)}:
            continue
        keys = {key.lower() for block in (statement.get("Condition") or {}).values() for key in block}
        if not keys & set(SOURCE_KEYS):
            found.append(_statement_name(statement, index))
    return found


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
    account: str = ""
    throttling: dict[str, float] | None = None
    detach: tuple[str, ...] = ()  # managed policies taken off the execution role
    delete_inline: tuple[str, ...] = ()  # its inline policies deleted
    drop_statements: tuple[str, ...] = ()  # repository statements removed
    boundary: str | None = None  # the execution role's permissions boundary, kept
    api_role: str = ""
    api_role_policy: dict[str, Any] | None = None
    api: ApiRepairs = field(default_factory=ApiRepairs)


@dataclass
class Bootstrapped:
    """What a bootstrap left in place."""

    role_arn: str
    repository_uri: str
    log_group: str
    secret: str | None
    api_id: str | None = None
    changed: bool = True
    boundary: str | None = None

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
        self.api_role = api_role_name(function)
        self.apis = HttpApis(clients, self.calls, function, region)

    # -- reading ---------------------------------------------------------------------------------------
    def account(self, settings: DeploySettings) -> str:
        """The account bootstrap works in: the credentials' (STS GetCallerIdentity, which needs no
        permission), which must be the settings' aws_account_id when that is set (the rendered policies
        name it)."""
        found = None
        if self.aws.sts is not None:
            found = str(
                self.calls.call("reading the caller's account", self.aws.sts.get_caller_identity)["Account"]
            )
        wanted = settings.aws_account_id
        if found and wanted and found != wanted:
            raise ConfigError(
                f"aws_account_id is {wanted}, but the AWS credentials are of account {found}; nothing was changed",
                hint=f'Use credentials of account {wanted}, or set aws_account_id = "{found}" and render the '
                "policies again.",
            )
        account = found or wanted
        if account is None:
            raise ConfigError(
                "bootstrap needs the AWS account: set aws_account_id (aws sts get-caller-identity)"
            )
        return account

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

    def _role(self, name: str | None = None) -> dict[str, Any] | None:
        found = self.calls.get(
            "reading the role", self.aws.iam.get_role, "NoSuchEntity", RoleName=name or self.role
        )
        return None if found is None else dict(found["Role"])

    def _role_policy(self, role: str | None = None, policy: str = ROLE_POLICY) -> dict[str, Any] | None:
        found = self.calls.get(
            "reading the role's policy",
            self.aws.iam.get_role_policy,
            "NoSuchEntity",
            RoleName=role or self.role,
            PolicyName=policy,
        )
        return None if found is None else dict(found["PolicyDocument"])

    def _role_policies(self, role: str) -> tuple[list[str], list[str]]:
        """Every managed policy attached to ``role`` (ARNs) and every inline one (names), all pages."""
        attached = self.calls.call(
            "listing the role's managed policies",
            lambda: [
                policy["PolicyArn"]
                for page in self.aws.iam.get_paginator("list_attached_role_policies").paginate(RoleName=role)
                for policy in page["AttachedPolicies"]
            ],
        )
        inline = self.calls.call(
            "listing the role's inline policies",
            lambda: [
                name
                for page in self.aws.iam.get_paginator("list_role_policies").paginate(RoleName=role)
                for name in page["PolicyNames"]
            ],
        )
        return list(attached), list(inline)

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

    def _function_arn(self, account: str) -> str:
        return (
            f"arn:{partition_of_region(self.region)}:lambda:{self.region}:{account}:function:{self.function}"
        )

    def _role_arn(self, account: str, role: str) -> str:
        return f"arn:{partition_of_region(self.region)}:iam::{account}:role/{role}"

    # -- plan ------------------------------------------------------------------------------------------
    def plan(self, settings: DeploySettings, *, prune: bool = False) -> Plan:
        """What would be created or changed (nothing on a second run); impossible settings, and what
        nfldeploy did not write on its role or repository (unless ``prune``), are refused first."""
        check_lambda(settings)
        if settings.lambda_endpoint == "api_gateway":
            check_api_auth(settings)
        else:
            check_url_auth(settings)
        account = self.account(settings)
        secret = self.full_secret_arn(settings.api_keys_secret) if settings.auth else None
        wanted = execution_role_policy(self.region, self.function, secret, account=account, exact=True)
        actions: list[Action] = []
        role = self._role()
        if role is None:
            actions.append(
                Action("create_role", self.role, "execution role, trusted by lambda.amazonaws.com")
            )
        elif not _same(role.get("AssumeRolePolicyDocument"), TRUST):
            actions.append(Action("role_trust", self.role, "trusted by lambda.amazonaws.com only"))
        if role is None or not _same(self._role_policy(), wanted):
            reads = f"; reads the secret {secret}" if secret else ""
            if secret and settings.api_keys_secret != secret:
                reads += f" (completed from {settings.api_keys_secret})"
            actions.append(Action("role_policy", ROLE_POLICY, f"its own log group only{reads}"))
        detach: list[str] = []
        delete_inline: list[str] = []
        boundary = None
        if role is not None:
            boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
            detach, delete_inline = self._extra_policies(partition_of(role["Arn"]), prune, actions)
        drop = self._repository_actions(settings, account, prune, actions)
        group = self._log_group()
        days = settings.log_retention_days
        if group is None:
            actions.append(Action("create_log_group", log_group(self.function), f"retention {days} days"))
        elif group.get("retentionInDays") != days:
            actions.append(Action("log_retention", log_group(self.function), f"retention {days} days"))
        throttling = None
        repairs = ApiRepairs()
        invoke_policy = None
        tags = role_tags(self.aws, self.calls, self.function) if role is not None else None
        if settings.lambda_endpoint == "api_gateway":
            throttling = {"rate": settings.rate_limit_rps, "burst": float(settings.rate_limit_burst)}
            invoke_policy = api_role_policy(self.region, self.function, account=account)
            actions += self._api_role_actions(invoke_policy)
            api_actions, repairs = self.apis.plan(
                tags, account, self._role_arn(account, self.api_role), throttling
            )
            actions += api_actions
        else:
            api_actions, repairs = self.apis.plan_removal(tags, account)
            actions += api_actions
            if self._role(self.api_role) is not None:
                actions.append(Action("delete_api_role", self.api_role, "no HTTP API invokes the function"))
        spec = BootstrapSpec(
            role=self.role,
            role_policy=wanted,
            repository=settings.repository,
            log_group=log_group(self.function),
            retention_days=days,
            secret=secret,
            account=account,
            throttling=throttling,
            detach=tuple(detach),
            delete_inline=tuple(delete_inline),
            drop_statements=drop,
            boundary=boundary,
            api_role=self.api_role,
            api_role_policy=invoke_policy,
            api=repairs,
        )
        return Plan(self.name, self.function, "(bootstrap)", tuple(actions), spec)

    def _extra_policies(
        self, partition: str, prune: bool, actions: list[Action]
    ) -> tuple[list[str], list[str]]:
        """The execution role's policies besides its own: an older nfldeploy's are removed, others refused
        unless ``prune`` (anything on the role runs with the function's code, which the deployer controls)."""
        attached, inline = self._role_policies(self.role)
        legacy = LEGACY_MANAGED.format(partition=partition)
        foreign = [f"managed policy {arn}" for arn in attached if arn != legacy]
        foreign += [f"inline policy {name}" for name in inline if name not in (ROLE_POLICY, LEGACY_INLINE)]
        if foreign and not prune:
            raise ConfigError(
                f"the execution role {self.role} holds policies nfldeploy did not write: {', '.join(foreign)}; "
                "whatever they allow, the function's code (which the deployer sets) may do; nothing was changed",
                hint="Run bootstrap with --prune to remove them, or move what they grant elsewhere.",
            )
        for arn in attached:
            reason = (
                "logs of every group: more than needed"
                if arn == legacy
                else "not written by nfldeploy (--prune)"
            )
            actions.append(Action("detach_policy", arn, reason))
        deleted = [name for name in inline if name != ROLE_POLICY]
        for name in deleted:
            reason = (
                f"replaced by {ROLE_POLICY}"
                if name == LEGACY_INLINE
                else "not written by nfldeploy (--prune)"
            )
            actions.append(Action("delete_role_policy", name, reason))
        return attached, deleted

    def _repository_actions(
        self, settings: DeploySettings, account: str, prune: bool, actions: list[Action]
    ) -> tuple[str, ...]:
        repository = self._repository(settings.repository)
        if repository is None:
            actions.append(Action("create_repository", settings.repository, "ECR, scan on push"))
        elif not repository.get("imageScanningConfiguration", {}).get("scanOnPush"):
            actions.append(Action("scan_on_push", settings.repository, "turn on scan on push"))
        policy = self._repository_policy(settings.repository) if repository is not None else None
        loose = tuple(unscoped_pulls(policy))
        if loose and not prune:
            raise ConfigError(
                f"the repository policy of {settings.repository} lets Lambda pull for any function "
                f"(statements {', '.join(loose)}: no aws:SourceArn or aws:SourceAccount); nothing was changed",
                hint=f"Run bootstrap with --prune to replace them with {PULL_SID} (this function only), or "
                "add a condition naming your functions.",
            )
        function_arn = self._function_arn(account)
        if policy is None or loose or not _same(with_pull_statement(policy, function_arn), policy):
            detail = f"Lambda may pull, for {self.function} only"
            if loose:
                detail += f"; removes {', '.join(loose)} (any function could pull)"
            actions.append(Action("repository_policy", settings.repository, detail))
        return loose

    def _api_role_actions(self, invoke_policy: dict[str, Any]) -> list[Action]:
        role = self._role(self.api_role)
        actions = []
        if role is None:
            actions.append(Action("create_api_role", self.api_role, "the HTTP API invokes alias live as it"))
        elif not _same(role.get("AssumeRolePolicyDocument"), API_TRUST):
            actions.append(
                Action("api_role_trust", self.api_role, "trusted by apigateway.amazonaws.com only")
            )
        if role is None or not _same(self._role_policy(self.api_role, API_ROLE_POLICY), invoke_policy):
            actions.append(
                Action("api_role_policy", API_ROLE_POLICY, "lambda:InvokeFunction on alias live only")
            )
        if role is not None:
            attached, inline = self._role_policies(self.api_role)
            extra = [*attached, *(name for name in inline if name != API_ROLE_POLICY)]
            if extra:
                raise ConfigError(
                    f"the role {self.api_role} holds policies nfldeploy did not write: {', '.join(extra)}; "
                    "nothing was changed",
                    hint="Remove them: the HTTP API acts as this role.",
                )
        return actions

    # -- apply -----------------------------------------------------------------------------------------
    def apply(self, plan: Plan) -> Bootstrapped:
        """Make what the plan says, in dependency order; each step can run again. A failure part-way says
        what was made and to run bootstrap again, which finishes."""
        made: list[str] = []
        try:
            return self._apply(plan, made)
        except NfldeployError as exc:
            if not made:
                raise
            raise DeployError(
                f"{exc.message}; bootstrap stopped part-way, after making: {', '.join(made)}",
                hint=RERUN_HINT,
            ) from exc

    def _apply(self, plan: Plan, made: list[str]) -> Bootstrapped:
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
            made.append(f"role {spec.role}")
        if "role_trust" in kinds:
            self.calls.call(
                "updating the role's trust",
                iam.update_assume_role_policy,
                RoleName=spec.role,
                PolicyDocument=json.dumps(TRUST),
            )
            made.append(f"trust of {spec.role}")
        if "role_policy" in kinds:
            self.calls.call(
                "writing the role's policy",
                iam.put_role_policy,
                RoleName=spec.role,
                PolicyName=ROLE_POLICY,
                PolicyDocument=json.dumps(spec.role_policy),
            )
            made.append(f"policy {ROLE_POLICY}")
        for arn in spec.detach if "detach_policy" in kinds else ():
            self.calls.call("detaching a policy", iam.detach_role_policy, RoleName=spec.role, PolicyArn=arn)
            made.append(f"{arn} detached")
        for name in spec.delete_inline if "delete_role_policy" in kinds else ():
            self.calls.call("deleting a policy", iam.delete_role_policy, RoleName=spec.role, PolicyName=name)
            made.append(f"policy {name} deleted")
        role_arn = str(self._role_or_fail()["Arn"])
        if "create_repository" in kinds:
            self.calls.call(
                "creating the ECR repository",
                ecr.create_repository,
                repositoryName=spec.repository,
                imageScanningConfiguration={"scanOnPush": True},
            )
            made.append(f"repository {spec.repository}")
        if "scan_on_push" in kinds:
            self.calls.call(
                "turning on scan on push",
                ecr.put_image_scanning_configuration,
                repositoryName=spec.repository,
                imageScanningConfiguration={"scanOnPush": True},
            )
        if "repository_policy" in kinds:
            policy = with_pull_statement(
                self._repository_policy(spec.repository),
                self._function_arn(spec.account),
                spec.drop_statements,
            )
            self.calls.call(
                "letting Lambda pull from the repository",
                ecr.set_repository_policy,
                repositoryName=spec.repository,
                policyText=json.dumps(policy),
            )
            made.append(f"repository policy {PULL_SID}")
        if "create_log_group" in kinds:
            self.calls.get(
                "creating the log group",
                self.aws.logs.create_log_group,
                "ResourceAlreadyExistsException",
                logGroupName=spec.log_group,
            )
            made.append(f"log group {spec.log_group}")
        if kinds & {"create_log_group", "log_retention"}:
            self.calls.call(
                "setting the log retention",
                self.aws.logs.put_retention_policy,
                logGroupName=spec.log_group,
                retentionInDays=spec.retention_days,
            )
        api_id = self._apply_api(spec, kinds, made)
        repository = self._repository(spec.repository) or {}
        return Bootstrapped(
            role_arn,
            str(repository.get("repositoryUri", "")),
            spec.log_group,
            spec.secret,
            api_id,
            not plan.empty,
            spec.boundary,
        )

    def _apply_api(self, spec: BootstrapSpec, kinds: set[str], made: list[str]) -> str | None:
        iam = self.aws.iam
        if "create_api_role" in kinds:
            self.calls.call(
                "creating the API's role",
                iam.create_role,
                RoleName=spec.api_role,
                AssumeRolePolicyDocument=json.dumps(API_TRUST),
                Description=f"The HTTP API of {self.function} invokes its alias live as this role (nfldeploy)",
            )
            made.append(f"role {spec.api_role}")
        if "api_role_trust" in kinds:
            self.calls.call(
                "updating the API role's trust",
                iam.update_assume_role_policy,
                RoleName=spec.api_role,
                PolicyDocument=json.dumps(API_TRUST),
            )
        if "api_role_policy" in kinds and spec.api_role_policy is not None:
            self.calls.call(
                "writing the API role's policy",
                iam.put_role_policy,
                RoleName=spec.api_role,
                PolicyName=API_ROLE_POLICY,
                PolicyDocument=json.dumps(spec.api_role_policy),
            )
            made.append(f"policy {API_ROLE_POLICY}")
        throttling = spec.throttling or {"rate": 0.0, "burst": 0.0}
        api_id = self.apis.apply(
            kinds, spec.api, spec.account, self._role_arn(spec.account, spec.api_role), throttling, made
        )
        if spec.throttling is not None and api_id is None:  # nothing to repair: the recorded API serves
            api_id = spec.api.api_id
        if "delete_api_role" in kinds:
            self.calls.get(
                "deleting the API role's policy",
                iam.delete_role_policy,
                "NoSuchEntity",
                RoleName=spec.api_role,
                PolicyName=API_ROLE_POLICY,
            )
            self.calls.get("deleting the API's role", iam.delete_role, "NoSuchEntity", RoleName=spec.api_role)
            made.append(f"role {spec.api_role} deleted")
        return api_id

    def _role_or_fail(self) -> dict[str, Any]:
        role = self._role()
        if role is None:
            raise needs_bootstrap(f"the execution role {self.role} is missing")
        return role
