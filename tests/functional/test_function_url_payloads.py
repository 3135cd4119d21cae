"""What the function URL front (tests/function_urls.py) makes of a request and of a function's answer, as
https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html has them, and how it splits an alias's
traffic (https://docs.aws.amazon.com/lambda/latest/dg/configuring-alias-routing.html). Pure: no moto, no
Docker."""

from __future__ import annotations

import base64
import contextlib
import json
import random
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest

from function_urls import Authority, HttpRequest, Route, build_event, http_answer, weighted_version

HOST = "abcdef0123456789abcdef0123456789.lambda-url.us-east-1.on.aws"


def _route(auth: str = "AWS_IAM", qualifier: str = "live") -> Route:
    class Function:
        function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST"
        function_name = "fn"

    config = {"FunctionUrl": f"https://{HOST}/", "AuthType": auth, "InvokeMode": "BUFFERED"}
    return Route(Function(), qualifier, config, "us-east-1", "123456789012")


def _request(path: str = "/predict", body: bytes = b"", **headers: str) -> HttpRequest:
    pairs = [("Host", HOST), *((name.replace("_", "-"), value) for name, value in headers.items())]
    return HttpRequest("POST", path, pairs, body, "198.51.100.7")


def test_the_event_is_payload_2_0_as_a_function_url_builds_it() -> None:
    request = HttpRequest(
        "POST",
        "/predict?a=1&a=2&b=",
        [
            ("Host", HOST),
            ("Content-Type", "application/json"),
            ("X-Custom", "one"),
            ("x-custom", "two"),
            ("Cookie", "c1=v1; c2=v2"),
            ("User-Agent", "tests"),
            ("Connection", "keep-alive"),
        ],
        b'{"play": 1}',
        "198.51.100.7",
    )
    caller = {"userArn": "arn:aws:iam::123456789012:user/u", "accountId": "123456789012"}
    event = build_event(request, _route(), caller, now=1_700_000_000.0)
    assert (event["version"], event["routeKey"], event["rawPath"]) == ("2.0", "$default", "/predict")
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    headers = event["headers"]
    assert headers["x-custom"] == "one,two" and "cookie" not in headers and "connection" not in headers
    assert headers["host"] == HOST and headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-for"] == "198.51.100.7"
    assert (event["body"], event["isBase64Encoded"]) == ('{"play": 1}', False)
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/predict",
        "protocol": "HTTP/1.1",
        "sourceIp": "198.51.100.7",
        "userAgent": "tests",
    }
    assert context["domainName"] == HOST and context["domainPrefix"] == context["apiId"] == HOST.split(".")[0]
    assert context["accountId"] == "123456789012"  # the function owner's, for an AWS_IAM URL
    assert context["authorizer"] == {"iam": caller}
    assert (context["stage"], context["routeKey"]) == ("$default", "$default")
    assert context["timeEpoch"] == 1_700_000_000_000 and context["time"] == "14/Nov/2023:22:13:20 +0000"
    json.dumps(event)  # what the emulator gets


def test_a_public_url_event_has_no_authorizer_and_no_query_or_body_when_none_came() -> None:
    event = build_event(_request("/version"), _route("NONE"), None)
    assert event["requestContext"]["authorizer"] is None
    assert event["requestContext"]["accountId"] == "anonymous"
    assert "queryStringParameters" not in event and "body" not in event and "cookies" not in event
    assert event["rawQueryString"] == ""


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("text/plain", True),
        ("application/problem+json", True),
        ("application/octet-stream", False),
        ("image/png", False),
        ("", False),
    ],
)
def test_a_binary_body_is_base64_encoded(content_type: str, text: bool) -> None:
    body = b'{"x": 1}'
    headers = {"Content_Type": content_type} if content_type else {}
    event = build_event(_request(body=body, **headers), _route(), None)
    assert event["isBase64Encoded"] is not text
    assert event["body"] == (body.decode() if text else base64.b64encode(body).decode())


def test_the_function_answer_becomes_the_http_response() -> None:
    answer = {
        "statusCode": 201,
        "headers": {"Content-Type": "text/plain", "X-Mine": "1"},
        "cookies": ["a=1; Max-Age=60", "b=2"],
        "body": "created",
        "isBase64Encoded": False,
    }
    response = http_answer(json.dumps(answer).encode())
    assert response.status == 201 and response.body == b"created"
    assert ("X-Mine", "1") in response.headers
    assert [v for k, v in response.headers if k == "Set-Cookie"] == ["a=1; Max-Age=60", "b=2"]
    binary = http_answer(
        json.dumps(
            {"statusCode": 200, "body": base64.b64encode(b"\x89PNG").decode(), "isBase64Encoded": True}
        ).encode()
    )
    assert binary.body == b"\x89PNG"


@pytest.mark.parametrize("payload", [b'{"message": "Hello, world!"}', b'"Hello, world!"', b"[1, 2]"])
def test_valid_json_without_a_status_code_is_a_200_with_that_json(payload: bytes) -> None:
    response = http_answer(payload)
    assert response.status == 200 and response.body == payload
    assert ("Content-Type", "application/json") in response.headers


def test_an_answer_that_is_not_json_is_a_bad_gateway() -> None:
    assert http_answer(b"Task timed out").status == 502


def test_an_alias_splits_its_traffic_by_the_additional_weights() -> None:
    rng = random.Random(11)
    runs = [weighted_version("2", {"4": 0.2}, rng.random()) for _ in range(2000)]
    assert 0.17 < runs.count("4") / len(runs) < 0.23 and set(runs) == {"2", "4"}
    assert {weighted_version("2", {}, draw) for draw in (0.0, 0.5, 0.999)} == {"2"}
    assert weighted_version("2", {"4": 1.0}, 0.999) == "4"


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext, hostname: str) -> Any:
    """A TLS handshake between the two contexts over loopback; the server certificate the client verified."""
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def accept() -> None:
            connection, _ = listener.accept()
            with contextlib.suppress(ssl.SSLError, OSError), server.wrap_socket(connection, server_side=True):
                pass

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            with (
                socket.create_connection(listener.getsockname()) as raw,
                client.wrap_socket(raw, server_hostname=hostname) as tls,
            ):
                return tls.getpeercert()
        finally:
            thread.join(10)


def test_the_test_ca_signs_a_certificate_clients_verify_for_the_urls_of_one_region(tmp_path: Path) -> None:
    authority = Authority(tmp_path)
    server = authority.context("lambda-url.us-east-1.on.aws")
    client = ssl.create_default_context(cafile=str(authority.bundle))
    assert _handshake(server, client, HOST)["subjectAltName"] == (("DNS", "*.lambda-url.us-east-1.on.aws"),)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(server, client, "abc.lambda-url.us-west-2.on.aws")
    with pytest.raises(
        ssl.SSLCertVerificationError
    ):  # the CA is this session's: certifi's roots alone refuse
        _handshake(server, ssl.create_default_context(), HOST)
