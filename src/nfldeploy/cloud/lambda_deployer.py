"""The IAM policies of the Lambda variant, as documents (``render`` writes both; bootstrap applies the second):

- the deployer's (a CI role, a user): every AWS call nfldeploy's ``deploy``, ``status``, ``rollback``,
  ``smoke-test`` and ``logs`` make for this service, scoped to its function and aliases, its execution role
  (read and pass, never create or change), its ECR repository, its log group and its HTTP API. No
  ``iam:Create*``, ``iam:Attach*``, ``iam:Put*``, no ``ecr:CreateRepository``: ``nfldeploy bootstrap``
  (admin credentials, once) makes what those would; ``aws/deployer-policy.json``.
- the execution role's (what the function itself may do): write its own log group, read the API keys
  secret; ``aws/execution-role-policy.json``.

Where a cloudsplaining finding is accepted rather than fixed, ``ACCEPTED_FINDINGS`` says why, beside the
statements that cause it."""

from __future__ import annotations

import re
from typing import Any

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
    # Statements "Function" and "PublicUrlGrants" / "ApiGatewayGrant": AddPermission makes the way in the
    # settings ask for (a public URL, the HTTP API), conditioned on lambda:Principal.
    "UpdateLambdaFunctionAndAddPermission": "the code runs as the narrow execution role; AddPermission is "
    "limited by lambda:Principal to the principal the settings need (* for a public URL, apigateway)",
}
#: cloudsplaining's "Resource Exposure" and "Credentials Exposure" actions that are accepted, with the reason.
ACCEPTED_EXPOSURE: dict[str, str] = {
    "lambda:AddPermission": "only with the settings' principal (lambda:Principal), on this function's aliases",
    "lambda:RemovePermission": "revokes grants of this function only (a public URL turning AWS_IAM)",
    "iam:PassRole": "the function's execution role only, to lambda.amazonaws.com only (iam:PassedToService)",
    "ecr:GetAuthorizationToken": "the registry login a push needs; ECR's own policy scopes the repository",
}

#: A complete Secrets Manager secret ARN ends in "-" and the six random characters Secrets Manager adds
#: (https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html#iam-resources).
FULL_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$")


def partition_of_region(region: str) -> str:
    """The ARN partition a region belongs to (aws, aws-cn, aws-us-gov)."""
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def execution_role_name(function: str) -> str:
    """The execution role nfldeploy makes for ``function`` (IAM role names: at most 64 characters)."""
    return f"{function}-nfldeploy"[:64]


def secret_resource(arn: str) -> str:
    """What an IAM ``Resource`` must name to grant the secret ``arn``: the full ARN as given, or for a partial
    one (no random suffix) ``arn-??????``. A policy's Resource does not match a partial ARN, although
    GetSecretValue accepts one; Secrets Manager's documentation says to grant ``name-??????``
    (https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_iam-policies.html)."""
    if ":secretsmanager:" not in arn or FULL_SECRET_ARN.match(arn):
        return arn  # not a Secrets Manager ARN (refused by deploy and bootstrap), or a complete one
    return f"{arn}-??????"


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
    url_auth: str = "AWS_IAM",
    auth: bool = False,
) -> dict[str, Any]:
    """The deployer's policy for the function ``name`` and the ECR ``repository`` in ``region``, with what
    its endpoints need (``api_gateway``, the live URL's ``url_auth``, API keys ``auth``). Any account: ``*``
    stands for the account id in every ARN."""
    arn = f"arn:{partition_of_region(region)}"
    function = f"{arn}:lambda:{region}:*:function:{name}"
    role = f"{arn}:iam::*:role/{execution_role_name(name)}"
    urls = url_auth_types(api_gateway, url_auth, auth)
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Function",
            "Effect": "Allow",
            "Action": FUNCTION_ACTIONS,
            "Resource": [function, f"{function}:*"],
        },
        {
            "Sid": "FunctionUrls",
            "Effect": "Allow",
            "Action": URL_ACTIONS,
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
    public = [alias for alias, kind in urls.items() if kind == "NONE"]
    if public:
        # a public URL needs InvokeFunctionUrl (auth type NONE) and InvokeFunction granted to "*"; AddPermission
        # is limited to that principal, and to the URL's auth type when the request names one
        # (lambda:Principal, lambda:FunctionUrlAuthType: Service Authorization Reference for Lambda)
        statements.append(
            {
                "Sid": "PublicUrlGrants",
                "Effect": "Allow",
                "Action": "lambda:AddPermission",
                "Resource": [f"{function}:{alias}" for alias in public],
                "Condition": {
                    "StringEquals": {"lambda:Principal": "*"},
                    "StringEqualsIfExists": {"lambda:FunctionUrlAuthType": "NONE"},
                },
            }
        )
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
        {"Sid": "ExecutionRole", "Effect": "Allow", "Action": ROLE_ACTIONS, "Resource": role},
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
            "Action": REPOSITORY_ACTIONS,
            "Resource": f"{arn}:ecr:{region}:*:repository/{repository}",
        },
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": "logs:FilterLogEvents",
            "Resource": [
                f"{arn}:logs:{region}:*:log-group:/aws/lambda/{name}",
                f"{arn}:logs:{region}:*:log-group:/aws/lambda/{name}:*",
            ],
        },
    ]
    if api_gateway:
        apis = f"{arn}:apigateway:{region}::/apis"
        statements += [
            {
                "Sid": "ApiGatewayGrant",
                "Effect": "Allow",
                "Action": "lambda:AddPermission",
                "Resource": f"{function}:live",
                "Condition": {"StringEquals": {"lambda:Principal": "apigateway.amazonaws.com"}},
            },
            # finding the service's API among the account's (a listing carries no resource tag)
            {"Sid": "HttpApiList", "Effect": "Allow", "Action": "apigateway:GET", "Resource": apis},
            # its $default stage (throttling): bootstrap created the API and the stage with the service's tag;
            # a stage is taggable in API Gateway V2, where child resources do not inherit the API's tags
            # (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-tagging-supported-resources.html)
            {
                "Sid": "HttpApiStage",
                "Effect": "Allow",
                "Action": ["apigateway:GET", "apigateway:PATCH"],
                "Resource": f"{apis}/*/stages/*",
                "Condition": {"StringEquals": {f"aws:ResourceTag/{API_TAG}": name}},
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def execution_role_policy(region: str, name: str, secret: str | None) -> dict[str, Any]:
    """What the function ``name`` may do as its execution role: write to its own log group (which bootstrap
    creates, so no logs:CreateLogGroup: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html
    lists the three; AWSLambdaBasicExecutionRole grants them on every log group of the account), and read
    the API keys ``secret`` (its full ARN, or ``name-??????`` for a partial one)."""
    arn = f"arn:{partition_of_region(region)}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{arn}:logs:{region}:*:log-group:/aws/lambda/{name}:*",
        }
    ]
    if secret:
        statements.append(
            {
                "Sid": "ReadApiKeys",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": secret_resource(secret),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
