"""The IAM policies of the Lambda variant, as documents (``render`` writes both; bootstrap applies the second):

- the deployer's (a CI role, a user): every AWS call nfldeploy's ``deploy``, ``status``, ``rollback``,
  ``smoke-test`` and ``logs`` make for this service, scoped to its function and aliases, its execution role
  (read and pass, never create or change), its ECR repository, its log group and its HTTP API. No
  ``iam:Create*``, ``iam:Attach*``, ``iam:Put*``, no ``ecr:CreateRepository``: ``nfldeploy bootstrap``
  (admin credentials, once) makes what those would; ``aws/deployer-policy.json``.
- the execution role's (what the function itself may do): write its own log group, read the API keys
  secret; ``aws/execution-role-policy.json``.
- behind an HTTP API, its integration role's (bootstrap applies it): invoke alias live, nothing else.

Every ARN names the account (``aws_account_id``; bootstrap uses the account its credentials are in).

Where a cloudsplaining finding is accepted rather than fixed, ``ACCEPTED_FINDINGS`` says why, beside the
statements that cause it."""

from __future__ import annotations

import re
from typing import Any

from nfldeploy.errors import ConfigError

FUNCTION_ACTIONS = [
    "lambda:GetFunction",
    "lambda:CreateFunction",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "lambda:PublishVersion",
    "lambda:ListVersionsByFunction",
    "lambda:GetAlias",
    "lambda:CreateAlias",
    "lambda:UpdateAlias",
    "lambda:GetFunctionUrlConfig",
    "lambda:DeleteFunctionUrlConfig",
    "lambda:GetPolicy",  # whether the HTTP API's invoke grant is in place
    "lambda:RemovePermission",  # revoking: the public grants when a URL turns AWS_IAM
    # every function URL and alias (paged: no door is missed), and ending a canary: its URL, its public
    # grants (RemovePermission), its alias
    "lambda:ListFunctionUrlConfigs",
    "lambda:ListAliases",
    "lambda:DeleteAlias",
]
#: Creating or changing a function URL, allowed only with the auth types the settings use (the condition key
#: lambda:FunctionUrlAuthType: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html and the Service
#: Authorization Reference for Lambda), so the deployer cannot open a public URL the settings do not ask for.
URL_ACTIONS = ["lambda:CreateFunctionUrlConfig", "lambda:UpdateFunctionUrlConfig"]
#: Deploy only reads the execution role bootstrap made: that it exists (its ARN) and which secret it may read.
ROLE_ACTIONS = ["iam:GetRole", "iam:GetRolePolicy"]
REPOSITORY_ACTIONS = [
    "ecr:DescribeRepositories",
    "ecr:DescribeImages",
    "ecr:BatchGetImage",
    # a push (docker's, or the registry-to-registry copy)
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:GetDownloadUrlForLayer",
]
#: The function's aliases: live serves, canary is checked before it gets traffic (targets/aws_lambda.py).
ALIASES = ("live", "canary")
#: The tag bootstrap puts on the HTTP API and its stage; deploy's API statement is conditioned on it.
API_TAG = "nfldeploy-service"

#: cloudsplaining findings (``scan-policy-file -aR``) that are inherent to deploying code, accepted with the
#: reason; every other finding fails tests/functional/test_iam_gates.py. Method names are cloudsplaining's.
ACCEPTED_FINDINGS: dict[str, str] = {
    # Statement "Function": lambda:UpdateFunctionCode on this function.
    "EditExistingLambdaFunctionWithRole": "deploying is changing this function's code; it runs as its own "
    "execution role, which may only write its log group and read its API keys secret",
    # Statements "Function" and "PassTheExecutionRoleToLambda": the first deploy creates the function.
    "PassExistingRoleToNewLambdaThenAddPermission": "the one role that can be passed is the function's own "
    "narrow execution role, to lambda.amazonaws.com, for a function of this name only",
    # Statements "Function" and "InvokeOwnUrlsFunction": the canary check and smoke-test call the function
    # through its own AWS_IAM URLs, signed with the deployer's credentials.
    "UpdateAndInvokeLambdaFunction": "invoking is what the canary check does, through this function's "
    "AWS_IAM URLs only (lambda:InvokedViaFunctionUrl); the code runs as its narrow execution role",
    "PassExistingRoleToNewLambdaThenInvoke": "the function created is this one, as its own narrow execution "
    "role; it is invoked through its own URLs only, to check it",
    # Statements "Function" and "PublicUrlGrant" / "PublicUrlInvokeGrant": AddPermission makes the two grants a
    # public URL needs, conditioned on lambda:Principal "*" (and the first on lambda:FunctionUrlAuthType NONE).
    "UpdateLambdaFunctionAndAddPermission": "the code runs as the narrow execution role; AddPermission is "
    'limited to the principal "*" on the aliases with a public URL, which the settings ask for; deploy '
    "removes any other public grant from them (lambda_endpoints.PUBLIC_GRANTS)",
}
#: cloudsplaining's "Resource Exposure" and "Credentials Exposure" actions that are accepted, with the reason.
ACCEPTED_EXPOSURE: dict[str, str] = {
    "lambda:AddPermission": "only the public URL grants (lambda:Principal *), on the aliases with a public URL",
    "lambda:RemovePermission": "revokes grants of this function only (a public URL turning AWS_IAM)",
    "iam:PassRole": "the function's execution role only, to lambda.amazonaws.com only (iam:PassedToService)",
    "ecr:GetAuthorizationToken": "the registry login a push needs; ECR's own policy scopes the repository",
}

#: A Secrets Manager secret ARN ends in the secret's name; a complete one adds "-" and six random characters
#: (https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html#iam-resources).
#: A name may itself end in "-" and six letters or digits (nfl-keys-prod01), so from the ARN alone a complete
#: ARN cannot be told from a partial one that looks like it.
SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:(?P<name>.+)$")
RANDOM_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")
#: IAM role names are at most 64 characters (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
ROLE_NAME_MAX = 64
#: The account in rendered ARNs when the settings give no aws_account_id: it names no account, so a policy
#: rendered without one grants nothing until it is set (never "*", every account).
ACCOUNT_PLACEHOLDER = "ACCOUNT_ID"


def partition_of_region(region: str) -> str:
    """The ARN partition a region belongs to (aws, aws-cn, aws-us-gov)."""
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def _role_name(function: str, suffix: str) -> str:
    name = f"{function}{suffix}"
    if len(name) > ROLE_NAME_MAX:  # cut to 64, two functions' roles could be one (X... and X...-nfl)
        raise ConfigError(
            f"the function name {function!r} is too long for its IAM role {name!r}: role names are at most "
            f"{ROLE_NAME_MAX} characters",
            hint=f"Use a service_name of at most {ROLE_NAME_MAX - len(suffix)} characters.",
        )
    return name


def execution_role_name(function: str) -> str:
    """The execution role nfldeploy makes for ``function``; a ConfigError when the name does not fit IAM's
    64 characters (never cut: two functions would share one role)."""
    return _role_name(function, "-nfldeploy")


def api_role_name(function: str) -> str:
    """The role the HTTP API's integration invokes ``function`` as (bootstrap makes it)."""
    return _role_name(function, "-nfldeploy-api")


def secret_resources(arn: str) -> list[str]:
    """What an IAM ``Resource`` must name to grant the secret ``arn``, which may be partial (no random
    suffix): a policy's Resource does not match a partial ARN, although GetSecretValue accepts one; Secrets
    Manager's documentation says to grant ``name-??????``
    (https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_iam-policies.html). A partial
    ARN gives ``arn-??????``; one ending like a random suffix may be either, so both ``arn`` and
    ``arn-??????``. Bootstrap completes the ARN with DescribeSecret and grants exactly the full one."""
    found = SECRET_ARN.match(arn)
    if found is None:
        return [arn]  # not a Secrets Manager ARN (refused by deploy and bootstrap)
    if RANDOM_SUFFIX.search(found["name"]):
        return [arn, f"{arn}-??????"]
    return [f"{arn}-??????"]


def url_auth_types(api_gateway: bool, url_auth: str, auth: bool) -> dict[str, str]:
    """The auth type of each alias's function URL: live's (none behind an HTTP API) and the canary's (the
    live one's; behind an HTTP API public when API keys guard the service, else IAM)."""
    if api_gateway:
        return {"canary": "NONE" if auth else "AWS_IAM"}
    return {"live": url_auth, "canary": url_auth}


def deployer_policy(
    region: str,
    name: str,
    repository: str,
    api_gateway: bool,
    *,
    account: str,
    url_auth: str = "AWS_IAM",
    auth: bool = False,
) -> dict[str, Any]:
    """The deployer's policy for the function ``name`` and the ECR ``repository`` in ``region`` of
    ``account`` (named in every ARN: with "*" the policy reached a same-named function, role or repository
    of any account), with what its endpoints need (``api_gateway``, the live URL's ``url_auth``, API keys
    ``auth``)."""
    arn = f"arn:{partition_of_region(region)}"
    function = f"{arn}:lambda:{region}:{account}:function:{name}"
    role = f"{arn}:iam::{account}:role/{execution_role_name(name)}"
    urls = url_auth_types(api_gateway, url_auth, auth)
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Function",
            "Effect": "Allow",
            "Action": list(FUNCTION_ACTIONS),
            "Resource": [function, f"{function}:*"],
        },
        {
            "Sid": "FunctionUrls",
            "Effect": "Allow",
            "Action": list(URL_ACTIONS),
            "Resource": [f"{function}:{alias}" for alias in urls],
            "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": sorted(set(urls.values()))}},
        },
    ]
    # version retention (lambda_keep_versions) deletes old versions, always with a version as the qualifier.
    # Granted on the qualified ARNs only ("function:NAME:*"): an action on a function can be restricted by
    # function, version or alias ARN (https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html),
    # and since January 2022 Lambda authorizes a request with a Qualifier against the qualified ARN (AWS's
    # notice, quoted in https://github.com/juanjoDiaz/serverless-plugin-warmup/issues/304). So an
    # unqualified DeleteFunction (the whole function, every version and alias) matches no Resource here.
    statements.append(
        {
            "Sid": "RetireVersions",
            "Effect": "Allow",
            "Action": "lambda:DeleteFunction",
            "Resource": f"{function}:*",
        }
    )
    public = [f"{function}:{alias}" for alias, kind in urls.items() if kind == "NONE"]
    if public:
        # A public URL needs two grants to "*" (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html):
        # lambda:InvokeFunctionUrl with FunctionUrlAuthType NONE, which the first statement requires (no
        # IfExists), so what it lets the deployer add holds only for calls through a public URL; and
        # lambda:InvokeFunction with InvokedViaFunctionUrl, a request that names no auth type. The Service
        # Authorization Reference gives AddPermission only lambda:Principal and lambda:FunctionUrlAuthType
        # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html): no key
        # names the granted Action, so IAM cannot keep the second to InvokeFunction. Deploy removes every
        # grant to "*" but these two from the aliases it serves (lambda_endpoints.PUBLIC_GRANTS), and the
        # README says what is left: the deployer could grant "*" another action until the next release.
        statements += [
            {
                "Sid": "PublicUrlGrant",
                "Effect": "Allow",
                "Action": "lambda:AddPermission",
                "Resource": public,
                "Condition": {
                    "StringEquals": {"lambda:Principal": "*", "lambda:FunctionUrlAuthType": "NONE"}
                },
            },
            {
                "Sid": "PublicUrlInvokeGrant",
                "Effect": "Allow",
                "Action": "lambda:AddPermission",
                "Resource": public,
                "Condition": {
                    "StringEquals": {"lambda:Principal": "*"},
                    "Null": {"lambda:FunctionUrlAuthType": "true"},
                },
            },
        ]
    signed = [alias for alias, kind in urls.items() if kind == "AWS_IAM"]
    if signed:
        # the canary check and smoke-test sign with the deployer's credentials: a same-account caller of an
        # AWS_IAM URL needs lambda:InvokeFunctionUrl and lambda:InvokeFunction in its identity policy
        # (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html), here only through the URL
        resources = [f"{function}:{alias}" for alias in signed]
        statements += [
            {
                "Sid": "InvokeOwnUrls",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunctionUrl",
                "Resource": resources,
                "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
            },
            {
                "Sid": "InvokeOwnUrlsFunction",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": resources,
                "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}},
            },
        ]
    statements += [
        {"Sid": "ExecutionRole", "Effect": "Allow", "Action": list(ROLE_ACTIONS), "Resource": role},
        {
            "Sid": "PassTheExecutionRoleToLambda",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": role,
            "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        },
        {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Sid": "Repository",
            "Effect": "Allow",
            "Action": list(REPOSITORY_ACTIONS),
            "Resource": f"{arn}:ecr:{region}:{account}:repository/{repository}",
        },
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": "logs:FilterLogEvents",
            "Resource": [
                f"{arn}:logs:{region}:{account}:log-group:/aws/lambda/{name}",
                f"{arn}:logs:{region}:{account}:log-group:/aws/lambda/{name}:*",
            ],
        },
    ]
    if api_gateway:
        # API Gateway ARNs carry no account (arn:aws:apigateway:REGION::/apis/ID): the tag bootstrap puts on
        # the API and its stage keeps these to the service's own. Deploy reads the API whose id bootstrap
        # recorded on the execution role (no listing of the account's APIs) and its $default stage; stages
        # are taggable in API Gateway V2, where child resources do not inherit the API's tags
        # (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-tagging-supported-resources.html).
        # No lambda:AddPermission: the integration invokes alias live as a role bootstrap made
        # (CredentialsArn), so no grant to apigateway.amazonaws.com, which AddPermission could not have
        # limited to this API's SourceArn (no such condition key), is needed.
        apis = f"{arn}:apigateway:{region}::/apis"
        tagged = {f"aws:ResourceTag/{API_TAG}": name}
        statements += [
            {
                "Sid": "HttpApi",
                "Effect": "Allow",
                "Action": "apigateway:GET",
                "Resource": f"{apis}/*",
                "Condition": {"StringEquals": tagged},
            },
            {
                # throttling only: the request may not set the stage's access logs (where they go, what they
                # hold), by apigateway:Request/AccessLoggingDestination and .../AccessLoggingFormat (Service
                # Authorization Reference, list_amazonapigatewaymanagementv2.html); stage variables have no
                # condition key, and the Lambda proxy integration reads none
                "Sid": "HttpApiThrottling",
                "Effect": "Allow",
                "Action": "apigateway:PATCH",
                "Resource": f"{apis}/*/stages/$default",
                "Condition": {
                    "StringEquals": tagged,
                    "Null": {
                        "apigateway:Request/AccessLoggingDestination": "true",
                        "apigateway:Request/AccessLoggingFormat": "true",
                    },
                },
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def _one(resources: list[str]) -> str | list[str]:
    return resources[0] if len(resources) == 1 else resources


def execution_role_policy(
    region: str, name: str, secret: str | None, *, account: str, exact: bool = False
) -> dict[str, Any]:
    """What the function ``name`` may do as its execution role: write to its own log group (which bootstrap
    creates, so no logs:CreateLogGroup: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html
    lists the three; AWSLambdaBasicExecutionRole grants them on every log group of the account), and read
    the API keys ``secret``: exactly it when ``exact`` (bootstrap completed it), else ``secret_resources``."""
    arn = f"arn:{partition_of_region(region)}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{arn}:logs:{region}:{account}:log-group:/aws/lambda/{name}:*",
        }
    ]
    if secret:
        statements.append(
            {
                "Sid": "ReadApiKeys",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": secret if exact else _one(secret_resources(secret)),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


#: The role the HTTP API's Lambda integration invokes alias live as ("To specify an IAM Role for API
#: Gateway to assume, use the role's Amazon Resource Name (ARN)": CredentialsArn,
#: https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-integrations.html). Only who may
#: pass it (iam:PassRole, which never crosses accounts) can put it on an integration: bootstrap's admin; the
#: deployer may pass the execution role only.
API_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def api_role_policy(region: str, name: str, *, account: str) -> dict[str, Any]:
    """What the HTTP API may do as its integration role: invoke alias live of ``name``, nothing else."""
    function = f"arn:{partition_of_region(region)}:lambda:{region}:{account}:function:{name}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeLive",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": f"{function}:live",
            }
        ],
    }
