"""The resources a Lambda function runs on: its ECR repository (scan on push) and the image in it, and its
execution role (logs, and reading the API keys secret)."""

from __future__ import annotations

import json
from typing import Any

from nfldeploy.cloud.aws import AwsCalls, AwsClients, partition_of
from nfldeploy.cloud.lambda_deployer import execution_role_name
from nfldeploy.errors import DeployError
from nfldeploy.settings import DeploySettings

SECRET_ENV = "NFLSERVE_API_KEYS_SECRET_ARN"
#: The AWS managed policy for the function's logs, in the role's partition (aws, aws-cn, aws-us-gov).
BASIC_EXECUTION = "arn:{partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
MANIFEST_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
]


class LambdaResources:
    """ECR and IAM for the function ``function``."""

    def __init__(self, clients: AwsClients, calls: AwsCalls, function: str) -> None:
        self.aws, self.calls, self.function = clients, calls, function

    def repository(self, settings: DeploySettings) -> dict[str, Any] | None:
        found = self._repositories(settings.repository)
        return None if not found else dict(found[0])

    def _repositories(self, name: str) -> list[Any] | None:
        """The repository ``name`` (a list of one), or None (DescribeRepositories pages: its paginator)."""
        return self.calls.pages(
            "reading the ECR repository",
            self.aws.ecr,
            "describe_repositories",
            "repositories",
            "RepositoryNotFoundException",
            repositoryNames=[name],
        )

    def ecr_digest(self, repository: str, image: str) -> str | None:
        ref = image.split("/", 1)[1] if "/" in image else image
        if "@" in ref:
            image_id = {"imageDigest": ref.split("@", 1)[1]}
        else:
            image_id = {"imageTag": ref.rsplit(":", 1)[1] if ":" in ref else "latest"}
        found = self.calls.pages(
            "reading the image",
            self.aws.ecr,
            "describe_images",
            "imageDetails",
            "ImageNotFoundException",
            repositoryName=repository,
            imageIds=[image_id],
        )
        return str(found[0]["imageDigest"]) if found else None

    def pushed_digest(self, repository: str, tag: str | None, image_id: str) -> str | None:
        """The ECR digest of the image ``image_id`` (its config digest) when the repository already holds
        exactly it under ``tag``. None when it must be pushed (or has no tag to look under)."""
        if tag is None:
            return None
        found = self.calls.get(
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
            if config.get("digest") == image_id:
                return str(entry["imageId"]["imageDigest"])
        return None

    def repository_uri(self, repository: str) -> str:
        found = self._repositories(repository)
        if not found:
            raise DeployError(f"the ECR repository {repository} of {self.function} is missing")
        return str(found[0]["repositoryUri"])

    def ensure_repository(self, name: str) -> str:
        existing = self._repositories(name)
        if not existing:
            created = self.calls.call(
                "creating the ECR repository",
                self.aws.ecr.create_repository,
                repositoryName=name,
                imageScanningConfiguration={"scanOnPush": True},
            )
            return str(created["repository"]["repositoryUri"])
        self.calls.call(
            "turning on scan on push",
            self.aws.ecr.put_image_scanning_configuration,
            repositoryName=name,
            imageScanningConfiguration={"scanOnPush": True},
        )
        return str(existing[0]["repositoryUri"])

    def ensure_role(self, name: str, secret: str | None) -> str:
        """The execution role ``name`` (created with the logs policy), allowed to read ``secret``."""
        found = self.calls.get("reading the role", self.aws.iam.get_role, "NoSuchEntity", RoleName=name)
        if found is None:
            found = self.calls.call(
                "creating the execution role",
                self.aws.iam.create_role,
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(TRUST),
                Description=f"Execution role of the Lambda function {self.function} (nfldeploy)",
            )
            self.calls.call(
                "attaching the logs policy",
                self.aws.iam.attach_role_policy,
                RoleName=name,
                PolicyArn=BASIC_EXECUTION.format(partition=partition_of(found["Role"]["Arn"])),
            )
        if secret:
            document = {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret}
                ],
            }
            self.calls.call(
                "granting the secret",
                self.aws.iam.put_role_policy,
                RoleName=name,
                PolicyName="read-api-keys",
                PolicyDocument=json.dumps(document),
            )
        return str(found["Role"]["Arn"])

    def role_name(self) -> str:
        return execution_role_name(self.function)
