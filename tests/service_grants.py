"""What AWS's services decide when they act for a resource of ours, as their documentation states it, for the
moto stand-in (review finding 4: the tests read back our config; nothing decided it). Decided with
tests/iam_evaluation.py:

- Lambda pulling a function's image from ECR at CreateFunction / UpdateFunctionCode: "Lambda needs
  ecr:BatchGetImage and ecr:GetDownloadUrlForLayer" granted by the repository policy to the service principal
  ``lambda.amazonaws.com``, which may be tied to the function with ``aws:sourceArn`` / ``aws:sourceAccount``
  (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html#configuration-images-permissions;
  confused deputy: https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html). The same page: in
  the function's own account, when the policy lacks the grant, Lambda adds it to the repository policy itself,
  which it "can add ... only if the principal calling Lambda has ecr:getRepositoryPolicy and
  ecr:setRepositoryPolicy permissions" (confirmed by the guide's maintainers:
  https://github.com/awsdocs/aws-lambda-developer-guide/issues/286); across accounts it cannot, and the repository's owner must grant it.
  Refused: "Lambda does not have permission to access the ECR image. Check the ECR permissions."
  (InvalidParameterValueException, AWS's answer quoted in https://repost.aws/knowledge-center/lambda-ecr-image).
- An HTTP API's Lambda proxy integration with ``CredentialsArn``: API Gateway assumes that role ("To specify an
  IAM Role for API Gateway to assume, use the role's Amazon Resource Name (ARN)",
  https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-integrations.html), so the role's
  trust policy must let ``apigateway.amazonaws.com`` call sts:AssumeRole
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_manage-assume.html), and the role's policies must
  allow lambda:InvokeFunction on the ``IntegrationUri``. A qualified ARN (an alias) is authorized against
  that qualified ARN: a statement on the unqualified function ARN does not cover it ("you can't use an
  unqualified ARN in the policy to grant access to a qualified ARN" since Lambda's January 2022 change,
  https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html). The URI has two documented
  shapes: the function's ARN, or API Gateway's invocation URI
  ``arn:PARTITION:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations``
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html);
  both are read. API Gateway's documentation does not say which ``aws:Source*`` keys it sends when it assumes
  the role: the trust policy must allow both without them and with them (iam_evaluation.decide_all)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iam_evaluation import Decision, Principal, decide, decide_all

PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
LAMBDA = Principal(arn="lambda.amazonaws.com", account="", service="lambda.amazonaws.com")
APIGATEWAY = Principal(arn="apigateway.amazonaws.com", account="", service="apigateway.amazonaws.com")
PULL_REFUSED = "Lambda does not have permission to access the ECR image. Check the ECR permissions."
INVOCATION_URI = re.compile(
    r"^arn:[^:]+:apigateway:[^:]+:lambda:path/2015-03-31/functions/(?P<arn>.+)/invocations$"
)


def pull_decision(
    repository_policy: Mapping[str, Any] | None, repository_arn: str, function_arn: str
) -> Decision:
    """Whether the repository policy lets Lambda pull ``function_arn``'s image: both actions, for the service
    principal, with the function as ``aws:SourceArn`` and its account as ``aws:SourceAccount``."""
    account = function_arn.split(":")[4]
    context = {"aws:SourceArn": function_arn, "aws:SourceAccount": account}
    decisions = [
        decide(
            [],
            action,
            repository_arn,
            context,
            resource_policy=repository_policy or {"Statement": []},
            principal=LAMBDA,
        )
        for action in PULL_ACTIONS
    ]
    if Decision.EXPLICIT_DENY in decisions:
        return Decision.EXPLICIT_DENY
    return Decision.ALLOW if all(d is Decision.ALLOW for d in decisions) else Decision.IMPLICIT_DENY


def lambda_own_grant() -> dict[str, Any]:
    """The statement Lambda adds to a repository of the function's account that lacks its grant: the two
    actions for its service principal (images-create.html; "Lambda will automatically create a Repo policy or
    update the Repo policy to include ecr:BatchGetImage and ecr:GetDownloadUrlForLayer",
    https://github.com/awsdocs/aws-lambda-developer-guide/issues/286). No page shows a source condition on
    it: without one it lets Lambda pull for any function, the loose statement bootstrap refuses."""
    return {
        "Sid": "LambdaECRImageRetrievalPolicy",
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": list(PULL_ACTIONS),
    }


@dataclass(frozen=True)
class Verdict:
    """A service's decision and, when it refuses, why (the policy and the step that refused)."""

    decision: Decision
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


def invoked_function(integration_uri: str) -> str:
    """The Lambda ARN an integration's URI names (either documented shape)."""
    matched = INVOCATION_URI.match(integration_uri)
    return matched["arn"] if matched else integration_uri


def integration_may_invoke(
    integration: Mapping[str, Any],
    trust_policy: Mapping[str, Any],
    role_policies: list[Mapping[str, Any]],
    *,
    api_arn: str,
    function_policy: Mapping[str, Any] | None = None,
) -> Verdict:
    """What API Gateway decides for one request through ``integration`` (its stored fields): assume the
    ``CredentialsArn`` role as apigateway.amazonaws.com, then, as that role, lambda:InvokeFunction on the
    ``IntegrationUri`` (the role's policies, or in one account the function's resource policy for that
    qualifier)."""
    role_arn = str(integration.get("CredentialsArn") or "")
    if not role_arn:
        return Verdict(Decision.IMPLICIT_DENY, "the integration has no CredentialsArn")
    account = role_arn.split(":")[4]
    contexts = [{}, {"aws:SourceAccount": account, "aws:SourceArn": api_arn}]
    trusted = decide_all(
        [], "sts:AssumeRole", role_arn, contexts, resource_policy=trust_policy, principal=APIGATEWAY
    )
    if trusted is not Decision.ALLOW:
        return Verdict(
            trusted, f"the trust policy of {role_arn} does not let apigateway.amazonaws.com assume it"
        )
    function = invoked_function(str(integration.get("IntegrationUri") or ""))
    role_name = role_arn.rsplit("/", 1)[1]
    session = Principal(
        arn=f"arn:{role_arn.split(':')[1]}:sts::{account}:assumed-role/{role_name}/apigateway",
        account=account,
        role_arn=role_arn,
    )
    invoked = decide(
        role_policies,
        "lambda:InvokeFunction",
        function,
        {"aws:PrincipalArn": role_arn, "aws:PrincipalAccount": account},
        resource_policy=function_policy,
        principal=session,
    )
    if invoked is not Decision.ALLOW:
        return Verdict(invoked, f"{role_arn} may not lambda:InvokeFunction on {function} ({invoked.value})")
    return Verdict(Decision.ALLOW)


def http_api_may_invoke(api_id: str, region: str, account: str = "123456789012") -> Verdict:
    """API Gateway's decision for the HTTP API ``api_id`` held by moto's server (this process's): every
    AWS_PROXY integration must pass ``integration_may_invoke`` with its role as IAM holds it now."""
    from moto.apigatewayv2.models import apigatewayv2_backends
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    api = apigatewayv2_backends[account][region].get_api(api_id)
    partition = get_partition(region)
    iam = iam_backends[account][partition]
    integrations = [i.to_json() for i in api.integrations.values()]
    proxies = [i for i in integrations if i.get("integrationType") == "AWS_PROXY"]
    if not proxies:
        return Verdict(Decision.IMPLICIT_DENY, f"HTTP API {api_id} has no Lambda proxy integration")
    for integration in proxies:
        fields = {
            "CredentialsArn": integration.get("credentialsArn"),
            "IntegrationUri": integration.get("integrationUri"),
        }
        role_arn = str(fields["CredentialsArn"] or "")
        if not role_arn:
            return Verdict(Decision.IMPLICIT_DENY, "the integration has no CredentialsArn")
        role = iam.get_role_by_arn(role_arn)
        policies: list[Mapping[str, Any]] = [_document(document) for document in role.policies.values()]
        policies += [
            _document(next(v.document for v in managed.versions if v.is_default))
            for managed in role.managed_policies.values()
        ]
        verdict = integration_may_invoke(
            fields,
            _document(role.assume_role_policy_document),
            policies,
            api_arn=f"arn:{partition}:execute-api:{region}:{account}:{api_id}/*",
        )
        if not verdict.allowed:
            return verdict
    return Verdict(Decision.ALLOW)


def _document(document: Any) -> dict[str, Any]:
    parsed = json.loads(document) if isinstance(document, str) else document
    return dict(parsed)
