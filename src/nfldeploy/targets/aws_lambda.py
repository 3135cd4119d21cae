"""AWS Lambda target: the only module that imports boto3."""

from __future__ import annotations


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


def ecr_login(region: str) -> dict[str, str]:
    """Registry credentials from ECR's authorization token (the standard AWS chain; AWS_ENDPOINT_URL is
    honoured). Never written anywhere: handed to the push only."""
    import base64

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from nfldeploy.errors import PushError

    try:
        data = boto3.client("ecr", region_name=region).get_authorization_token()["authorizationData"][0]
    except (BotoCoreError, ClientError) as exc:
        raise PushError(
            f"cannot get an ECR token in {region}: {exc}", hint="Check the AWS credentials and region."
        ) from exc
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return {"username": username, "password": password}
