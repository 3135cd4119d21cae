"""Signing HTTP requests with AWS Signature Version 4 (botocore's signer), for endpoints behind IAM such as a
Lambda function URL with ``AuthType AWS_IAM``. Credentials come from the standard AWS chain."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import httpx

from nfldeploy.errors import ConfigError
from nfldeploy.settings import DeploySettings

SIGNED_HEADERS = ("authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256")


class SigV4Auth(httpx.Auth):
    """An httpx auth flow that signs each request for ``service`` in ``region``."""

    requires_request_body = True

    def __init__(self, region: str, service: str = "lambda", credentials: Any | None = None) -> None:
        self.region, self.service = region, service
        if credentials is None:
            import boto3

            found = boto3.Session().get_credentials()
            if found is None:
                raise ConfigError(
                    "the endpoint takes SigV4-signed requests (IAM) and no AWS credentials were found",
                    hint="Set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY with lambda:InvokeFunctionUrl.",
                )
            credentials = found.get_frozen_credentials()
        self.credentials = credentials

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        from botocore.auth import SigV4Auth as BotocoreSigner
        from botocore.awsrequest import AWSRequest

        headers = {"Host": request.url.netloc.decode()}
        if "content-type" in request.headers:
            headers["Content-Type"] = request.headers["content-type"]
        signed = AWSRequest(
            method=request.method, url=str(request.url), data=request.content, headers=headers
        )
        BotocoreSigner(self.credentials, self.service, self.region).add_auth(signed)
        for name, value in signed.headers.items():
            if name.lower() in SIGNED_HEADERS:
                request.headers[name] = value
        yield request


def endpoint_auth(target: str, settings: DeploySettings, canary: bool = False) -> httpx.Auth | None:
    """How a deploy target's endpoint (or its canary's own URL) wants requests signed: SigV4 for a Lambda
    function URL behind IAM; an API Gateway HTTP API takes unsigned requests."""
    from nfldeploy.targets.aws_lambda import canary_url_auth

    if target != "lambda":
        return None
    if canary:
        auth = canary_url_auth(settings)
    else:
        auth = settings.function_url_auth if settings.lambda_endpoint == "function_url" else "NONE"
    return SigV4Auth(settings.aws_region) if auth == "AWS_IAM" else None
