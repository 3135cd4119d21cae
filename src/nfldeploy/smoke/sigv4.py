"""Signing HTTP requests with AWS Signature Version 4 (botocore's signer), for endpoints behind IAM such as a
Lambda function URL with ``AuthType AWS_IAM``. Credentials come from the standard AWS chain."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import httpx

from nfldeploy.settings import DeploySettings

SIGNED_HEADERS = ("authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256")


class SigV4Auth(httpx.Auth):
    """An httpx auth flow that signs each request for ``service`` in ``region``."""

    requires_request_body = True

    def __init__(self, region: str, service: str = "lambda", credentials: Any | None = None) -> None:
        self.region, self.service = region, service
        if credentials is None:
            from nfldeploy.cloud.aws import frozen_credentials

            credentials = frozen_credentials()
        self.credentials = credentials

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        from nfldeploy.cloud.aws import sigv4_headers

        headers = {"Host": request.url.netloc.decode()}
        if "content-type" in request.headers:
            headers["Content-Type"] = request.headers["content-type"]
        signed = sigv4_headers(
            self.credentials,
            self.service,
            self.region,
            request.method,
            str(request.url),
            request.content,
            headers,
        )
        for name, value in signed.items():
            if name.lower() in SIGNED_HEADERS:
                request.headers[name] = value
        yield request


def endpoint_auth(target: str, settings: DeploySettings, canary: bool = False) -> httpx.Auth | None:
    """How a deploy target's endpoint (or its canary's own URL) wants requests signed: SigV4 for a Lambda
    function URL behind IAM; an API Gateway HTTP API takes unsigned requests."""
    from nfldeploy.targets.lambda_endpoints import canary_url_auth

    if target != "lambda":
        return None
    if canary:
        auth = canary_url_auth(settings)
    else:
        auth = settings.function_url_auth if settings.lambda_endpoint == "function_url" else "NONE"
    return SigV4Auth(settings.aws_region) if auth == "AWS_IAM" else None
