"""The IAM policy of the identity that deploys to Lambda (a CI role, a user): every AWS call nfldeploy's
``deploy``, ``status``, ``rollback``, ``smoke-test`` and ``logs`` make for this service, scoped to its function,
its execution role, its ECR repository, its log group and (with ``lambda_endpoint = "api_gateway"``) the
HTTP APIs. ``render`` writes it as ``aws/deployer-policy.json``."""

from __future__ import annotations

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
    "lambda:CreateFunctionUrlConfig",
    "lambda:UpdateFunctionUrlConfig",
    "lambda:DeleteFunctionUrlConfig",
    "lambda:AddPermission",
    "lambda:RemovePermission",
    # every function URL and alias (paged), and ending a canary: its URL's public grants, its alias
    "lambda:ListFunctionUrlConfigs",
    "lambda:ListAliases",
    "lambda:GetPolicy",
    "lambda:DeleteAlias",
    # version retention deletes old versions, always with a version as the qualifier. The Service
    # Authorization Reference lists lambda:DeleteFunction with the "function" resource type only (no
    # "function version"; https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html),
    # so no Resource or condition key can confine it to versions: granted on this function (and its
    # qualified ARNs) only.
    "lambda:DeleteFunction",
]
ROLE_ACTIONS = ["iam:GetRole", "iam:CreateRole", "iam:AttachRolePolicy", "iam:PutRolePolicy"]
REPOSITORY_ACTIONS = [
    "ecr:DescribeRepositories",
    "ecr:CreateRepository",
    "ecr:PutImageScanningConfiguration",
    "ecr:DescribeImages",
    "ecr:BatchGetImage",
    # a push (docker's, or the registry-to-registry copy)
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    # Lambda pulls the image with the creator's grant: it adds itself to the repository policy when needed
    # (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html, "Amazon ECR permissions")
    "ecr:GetDownloadUrlForLayer",
    "ecr:GetRepositoryPolicy",
    "ecr:SetRepositoryPolicy",
]
#: API Gateway's management actions are HTTP verbs on resource paths
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/security_iam_service-with-iam.html).
API_ACTIONS = ["apigateway:GET", "apigateway:POST", "apigateway:PATCH"]


def partition_of_region(region: str) -> str:
    """The ARN partition a region belongs to (aws, aws-cn, aws-us-gov)."""
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def execution_role_name(function: str) -> str:
    """The execution role nfldeploy makes for ``function`` (IAM role names: at most 64 characters)."""
    return f"{function}-nfldeploy"[:64]


def deployer_policy(region: str, name: str, repository: str, api_gateway: bool) -> dict[str, Any]:
    """The policy document for the function ``name`` and the ECR ``repository`` in ``region``, with the
    HTTP API's statement when ``api_gateway`` (any account: ``*`` stands for the account id in every ARN)."""
    arn = f"arn:{partition_of_region(region)}"
    function = f"{arn}:lambda:{region}:*:function:{name}"
    role = f"{arn}:iam::*:role/{execution_role_name(name)}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Function",
            "Effect": "Allow",
            "Action": FUNCTION_ACTIONS,
            "Resource": [function, f"{function}:*"],
        },
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
        apis = f"{arn}:apigateway:{region}::"
        statements.append(
            {
                "Sid": "HttpApi",
                "Effect": "Allow",
                "Action": API_ACTIONS,
                "Resource": [f"{apis}/apis", f"{apis}/apis/*", f"{apis}/tags/*"],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
