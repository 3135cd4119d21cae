"""The Lambda image under AWS's own Runtime Interface Emulator (tests/lambda_rie.py), as Lambda runs it: the
events of both fronts (function URL, HTTP API payload 2.0) answered with the export's golden predictions; an
init that cannot serve (a missing model, an unreadable API keys secret) failing as Lambda expects; a request
past the function's timeout; payloads at Lambda's 6 MB limit."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from lambda_rie import EventTransport, RieFunction, moto_env, url_event
from nfldeploy.serving.guard import DRAIN_SECONDS
from nfldeploy.smoke.checks import check_golden, check_schema, check_version, load_context

pytestmark = [pytest.mark.docker, pytest.mark.slow]

GUIDE_REQUEST = {
    "players": [{"x": 50, "y": 26, "s": 5.0, "a": 0.5, "dis": 1.2, "o": 90, "dir": 90}],
    "game_context": {"down": 1, "distance": 10},
}
#: Lambda's invocation payload quota, request and response: 6 MB
#: (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html, "Invocation payload (request and
#: response)"); Lambda's refusal names 6291456 bytes (RequestEntityTooLargeException).
PAYLOAD_LIMIT = 6 * 1024 * 1024
#: What the emulator reads of an event (found by bisection: 6 MiB + 100 bytes); past it the runtime is handed
#: the event cut there.
RIE_READS = PAYLOAD_LIMIT + 100
HERE = Path(__file__).resolve().parents[1]


def _event_of_size(size: int, path: str = "/predict", headers: dict[str, str] | None = None) -> bytes:
    """A function URL event of exactly ``size`` bytes whose body is a JSON document as large as fits."""
    event = url_event("POST", path, "", headers=headers)
    room = size - len(json.dumps(event).encode())
    while True:  # the body's own quotes are escaped inside the event
        event["body"] = json.dumps({"pad": "a" * room})
        data = json.dumps(event).encode()
        if len(data) == size:
            return data
        room -= len(data) - size


def _body(answer: Any) -> Any:
    payload = answer.json()
    return json.loads(payload["body"])


def test_function_url_and_http_api_events_give_the_golden_predictions(
    docker_client: Any, lambda_image: str, example_export: Path
) -> None:
    """The smoke test's own version, golden and schema checks, sent as the events of both fronts to one
    environment under the emulator (which hands the runtime a real Lambda context), on a read-only file
    system as Lambda runs images."""
    with RieFunction(docker_client, lambda_image, name=f"rie-{uuid.uuid4().hex[:6]}") as function:
        fronts = {
            "function URL": ("https://abc123.lambda-url.us-east-1.on.aws", None),
            "HTTP API": ("https://abc123.execute-api.us-east-1.amazonaws.com", "$default"),
        }
        for front, (base_url, stage) in fronts.items():
            client = httpx.Client(transport=EventTransport(function, stage=stage), base_url=base_url)
            ctx = load_context(client, example_export, None, 5, 250.0)
            for check in (check_version, check_golden, check_schema):
                passed, detail = check(ctx)
                assert passed, f"{front}: {check.__name__}: {detail}\n{function.logs()[-3000:]}"
            guide = client.post("/predict", json=GUIDE_REQUEST)
            assert guide.status_code == 200, guide.text
            assert len(guide.json()["predictions"][0]["predicted_positions"]) == 10
        # a body the front base64-encodes (one that is not text) is decoded by the handler
        encoded = function.invoke(url_event("POST", "/predict", json.dumps(GUIDE_REQUEST), base64=True))
        assert encoded.status == 200 and encoded.json()["statusCode"] == 200, encoded.body[:500]
        assert function.inits() == 1, function.logs()  # one environment served every event
        access = function.records("request")
        assert access and {record["status"] for record in access} == {200}


def _init_failure(record: dict[str, Any]) -> tuple[str, str]:
    assert record["level"] == "error" and record["logger"] == "nfldeploy.serving", record
    return record["error"], record["hint"]


def test_a_missing_model_fails_init_with_a_clear_log_line(docker_client: Any, lambda_image: str) -> None:
    """The emulator answers an init that raised with the runtime's error (502, errorType/errorMessage) and
    inits again on the next invocation; the handler used to init "successfully" without its model and answer
    /health 200 (and /predict 503) for as long as the environment lived."""
    env = {"NFLSERVE_MODEL_DIR": "/nonexistent/model"}
    with RieFunction(docker_client, lambda_image, env=env, name="rie-no-model") as function:
        for attempt in (1, 2):
            answer = function.invoke(url_event("GET", "/health"))
            assert answer.status == 502, (answer.status, answer.body[:500], function.logs()[-3000:])
            error = answer.function_error
            assert error is not None and error["errorType"] == "InitError", answer.body[:500]
            assert "/nonexistent/model failed to load" in error["errorMessage"]
            assert function.inits() == attempt  # Lambda runs init again: a transient cause heals
        failures = function.records("init failed")
        assert len(failures) == 2, function.logs()
        message, hint = _init_failure(failures[0])
        assert "/nonexistent/model" in message and "NFLSERVE_MODEL_DIR" in hint
        assert "Traceback" not in json.dumps(failures[0])
        assert not function.records("request")  # no request reached the app


def test_an_unreadable_api_keys_secret_fails_init_and_a_readable_one_serves(
    docker_client: Any, lambda_image: str, aws_env: str
) -> None:
    """NFLSERVE_API_KEYS_SECRET_ARN is read at init from moto's Secrets Manager (the container shares the
    host's network): a secret that is not there fails init naming the ARN, Secrets Manager's error and what
    to check; one that is there gives the keys."""
    import boto3

    region = "us-east-1"
    secrets = boto3.client("secretsmanager", region_name=region, endpoint_url=aws_env)
    name = f"rie-keys-{uuid.uuid4().hex[:6]}"
    arn = secrets.create_secret(Name=name, SecretString='{"keys": ["rie-key-1"]}')["ARN"]
    missing = arn.replace(name, f"{name}-gone")
    env = {**moto_env(aws_env), "NFLSERVE_API_KEYS_SECRET_ARN": missing}
    with RieFunction(docker_client, lambda_image, env=env, name="rie-bad-secret") as function:
        answer = function.invoke(url_event("GET", "/version"))
        assert answer.status == 502, (answer.status, answer.body[:500], function.logs()[-3000:])
        error = answer.function_error
        assert error is not None and error["errorType"] == "InitError", answer.body[:500]
        assert missing in error["errorMessage"] and "ResourceNotFoundException" in error["errorMessage"]
        (failure,) = function.records("init failed")
        message, hint = _init_failure(failure)
        assert missing in message and "NFLSERVE_API_KEYS_SECRET_ARN" in hint and "bootstrap" in hint
    env = {**moto_env(aws_env), "NFLSERVE_API_KEYS_SECRET_ARN": arn}
    with RieFunction(docker_client, lambda_image, env=env, name="rie-secret") as function:
        anonymous = function.invoke(url_event("GET", "/version"))
        assert anonymous.status == 200 and anonymous.json()["statusCode"] == 401, anonymous.body[:500]
        signed = function.invoke(url_event("GET", "/version", headers={"authorization": "Bearer rie-key-1"}))
        assert signed.json()["statusCode"] == 200, signed.body[:500]
        assert not function.records("init failed")


def test_a_request_past_the_function_timeout_is_cut_and_the_next_one_inits_again(
    docker_client: Any, lambda_image: str
) -> None:
    """AWS_LAMBDA_FUNCTION_TIMEOUT bounds an invocation (init included, for the one that starts the
    runtime): past it the emulator answers "Task timed out after N.00 seconds" and kills the runtime; the
    next invocation starts it again and the handler, initialised afresh (nothing of the killed one left in
    /tmp or elsewhere stops it), answers."""
    wrappers = HERE / "lambda_wrappers"
    with RieFunction(
        docker_client,
        lambda_image,
        env={"PYTHONPATH": "/opt/nfldeploy-test"},
        name="rie-timeout",
        timeout=15,
        mounts={str(wrappers): "/opt/nfldeploy-test"},
        command=["python3", "-m", "awslambdaric", "slow_handler.handler"],
    ) as function:
        slow = function.invoke(url_event("GET", "/health", headers={"x-test-sleep": "120"}))
        assert slow.timed_out and slow.body.startswith(b"Task timed out after 15.00 seconds"), slow.body
        answer = function.invoke(url_event("POST", "/predict", json.dumps(GUIDE_REQUEST)))
        assert answer.status == 200 and answer.json()["statusCode"] == 200, (
            answer.body[:500],
            function.logs(),
        )
        assert len(_body(answer)["predictions"][0]["predicted_positions"]) == 10
        assert function.inits() == 2, function.logs()


def test_payloads_at_lambdas_6_mb_limit(docker_client: Any, lambda_image: str, example_export: Path) -> None:
    """Within Lambda's 6 MB a body past max_body_bytes (1 MB) gets the handler's 413 at once, whether the
    front declared its length or not (it used to wait DRAIN_SECONDS for more of a body mangum had handed
    whole); past the emulator's read the runtime gets a cut event (Runtime.UnmarshalError, the handler never
    called; Lambda itself refuses such a request before any runtime) and the environment serves on; the
    largest answer the API gives (max_batch_plays plays of 23 players, every mode) fits Lambda's response
    quota."""
    with RieFunction(docker_client, lambda_image, name="rie-payloads") as function:
        assert function.invoke(url_event("GET", "/health")).json()["statusCode"] == 200  # init done
        for headers in ({}, {"content-length": str(PAYLOAD_LIMIT)}):
            answer = function.invoke(_event_of_size(PAYLOAD_LIMIT, headers=headers))
            assert answer.status == 200 and answer.json()["statusCode"] == 413, answer.body[:500]
            assert _body(answer)["error"]["code"] == "body_too_large"
        *_, first, second = function.durations()
        assert max(first, second) < DRAIN_SECONDS * 1000 / 2, function.durations()

        cut = function.invoke(_event_of_size(RIE_READS + 1))
        error = cut.function_error
        assert error is not None and error["errorType"] == "Runtime.UnmarshalError", cut.body[:500]
        assert len(function.records("request")) == 3  # the cut event reached no app
        assert function.invoke(url_event("GET", "/health")).json()["statusCode"] == 200
        assert function.inits() == 1

        golden = json.loads((example_export / "golden" / "requests.json").read_text())[0]
        players = [{**player, "nfl_id": 70000 + index} for index, player in enumerate(golden["players"][:22])]
        players.append({**players[0], "nfl_id": 79999, "x": players[0]["x"] + 1.0})
        play = {**golden, "players": players, "modes": 3}
        largest = json.dumps({"plays": [play] * 64})
        assert len(largest) < 1_000_000  # within max_body_bytes
        answer = function.invoke(url_event("POST", "/predict_batch", largest))
        assert answer.status == 200 and answer.json()["statusCode"] == 200, answer.body[:500]
        assert len(_body(answer)["results"]) == 64
        assert len(answer.body) < PAYLOAD_LIMIT, len(answer.body)
