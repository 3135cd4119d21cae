"""moto's server, the AWS stand-in the Lambda target's tests talk to."""

from __future__ import annotations


def test_moto_server_speaks_the_aws_api(aws_env: str) -> None:
    import boto3

    ecr = boto3.client("ecr", endpoint_url=aws_env, region_name="us-east-1")
    repo = ecr.create_repository(repositoryName="nfl-trajectory")["repository"]
    assert repo["repositoryName"] == "nfl-trajectory"
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert "nfl-trajectory" in names
