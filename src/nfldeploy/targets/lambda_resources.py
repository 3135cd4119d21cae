"""The resources a Lambda function runs on, as deploy reads them: its ECR repository and the image in it, and
its execution role (``nfldeploy bootstrap`` makes both; deploy only checks them)."""

from __future__ import annotations

import json
from typing import Any

from nfldeploy.cloud.aws import AwsCalls, AwsClients
from nfldeploy.cloud.lambda_deployer import execution_role_name
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.lambda_bootstrap import ROLE_POLICY, needs_bootstrap

SECRET_ENV = "NFLSERVE_API_KEYS_SECRET_ARN"
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
            raise needs_bootstrap(f"the ECR repository {repository} of {self.function} is missing")
        return str(found[0]["repositoryUri"])

    def role_arn(self) -> str | None:
        """The execution role's ARN (bootstrap made it), None when it is missing."""
        found = self.calls.get(
            "reading the role", self.aws.iam.get_role, "NoSuchEntity", RoleName=self.role_name()
        )
        return None if found is None else str(found["Role"]["Arn"])

    def granted_secret(self, arn: str) -> str:
        """The secret ARN the function reads: the one the execution role may read (bootstrap wrote its full
        ARN), which ``arn`` must name, fully or as a partial ARN (no random suffix). A ConfigError otherwise:
        GetSecretValue would be refused at the function's init."""
        found = self.calls.get(
            "reading the execution role's policy",
            self.aws.iam.get_role_policy,
            "NoSuchEntity",
            RoleName=self.role_name(),
            PolicyName=ROLE_POLICY,
        )
        statements = (found or {}).get("PolicyDocument", {}).get("Statement", [])
        for statement in statements:
            if "secretsmanager:GetSecretValue" not in _listed(statement.get("Action")):
                continue
            for granted in _listed(statement.get("Resource")):
                if granted == arn or (
                    granted.startswith(f"{arn}-") and len(granted) == len(arn) + 7  # its 6-character suffix
                ):
                    return granted
        raise needs_bootstrap(f"the execution role {self.role_name()} may not read the API keys secret {arn}")

    def role_name(self) -> str:
        return execution_role_name(self.function)


def _listed(value: Any) -> list[str]:
    """A policy element that is a string or a list of strings, as a list."""
    return [value] if isinstance(value, str) else list(value or [])
