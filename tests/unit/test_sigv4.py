"""SigV4 signing of smoke-test requests (a Lambda function URL behind IAM), checked against the algorithm as
AWS documents it, computed here by hand from the request that went on the wire."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest
from botocore.credentials import Credentials

from nfldeploy.errors import ConfigError
from nfldeploy.settings import DeploySettings
from nfldeploy.smoke.sigv4 import SigV4Auth, endpoint_auth

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _expected_signature(request: httpx.Request, region: str, service: str) -> str:
    authorization = request.headers["authorization"]
    signed_headers = authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
    amz_date = request.headers["x-amz-date"]
    canonical_headers = "".join(f"{name}:{request.headers[name].strip()}\n" for name in signed_headers)
    canonical = "\n".join(
        [
            request.method,
            request.url.path or "/",
            "&".join(sorted(request.url.query.decode().split("&"))) if request.url.query else "",
            canonical_headers,
            ";".join(signed_headers),
            hashlib.sha256(request.content).hexdigest(),
        ]
    )
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + SECRET).encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_requests_are_signed_as_aws_documents_it() -> None:
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(200, json={}))
    auth = SigV4Auth("eu-west-1", credentials=Credentials("AKIDEXAMPLE", SECRET, "session-token-1"))
    with httpx.Client(
        base_url="https://abc.lambda-url.eu-west-1.on.aws", transport=transport, auth=auth
    ) as client:
        client.get("/ready")
        client.post("/predict", json={"players": [1, 2]}, params={"b": "2", "a": "1"})
    for request in seen:
        authorization = request.headers["authorization"]
        assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        assert "/eu-west-1/lambda/aws4_request" in authorization
        assert "host" in authorization.split("SignedHeaders=")[1]
        assert request.headers["x-amz-security-token"] == "session-token-1"
        signature = authorization.rsplit("Signature=", 1)[1]
        assert signature == _expected_signature(request, "eu-west-1", "lambda")
    assert json.loads(seen[1].content) == {"players": [1, 2]}  # the body signed is the body sent


def test_only_a_lambda_url_behind_iam_is_signed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    assert isinstance(endpoint_auth("lambda", DeploySettings()), SigV4Auth)
    assert endpoint_auth("lambda", DeploySettings(function_url_auth="NONE", auth=True)) is None
    assert endpoint_auth("cloudrun", DeploySettings()) is None


def test_no_aws_credentials_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ConfigError, match="no AWS credentials"):
        SigV4Auth("us-east-1")
