"""The inference API in process (the ASGI app through Starlette's TestClient, lifespan included)."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from nfldeploy.serving.app import create_app
from nfldeploy.serving.config import ServeConfig

GUIDE_REQUEST = {
    "players": [{"x": 50, "y": 26, "s": 5.0, "a": 0.5, "dis": 1.2, "o": 90, "dir": 90}],
    "game_context": {"down": 1, "distance": 10},
}


def _client(model_dir: Path, **settings: Any) -> TestClient:
    return TestClient(create_app(ServeConfig(model_dir=model_dir, **settings)))


def _wait_ready(client: TestClient, headers: dict[str, str] | None = None) -> None:
    for _ in range(200):
        if client.get("/ready", headers=headers).status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(client.get("/ready").json())


@pytest.fixture(scope="module")
def client(example_export: Path) -> Iterator[TestClient]:
    with _client(example_export, rate_limit_rps=10_000, rate_limit_burst=10_000) as c:
        _wait_ready(c)
        yield c


def test_the_guides_request(client: TestClient) -> None:
    response = client.post("/predict", json=GUIDE_REQUEST)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["predictions"]) == 1
    prediction = body["predictions"][0]
    assert prediction["player_id"] == 0
    positions = np.array(prediction["predicted_positions"])
    assert positions.shape == (10, 2)
    # Moving at 5 yd/s toward +x (dir 90): a second later the player is about 5 yd further along x.
    assert 52.0 < positions[-1, 0] < 58.0 and abs(positions[-1, 1] - 26) < 3
    assert 0 < prediction["confidence"] <= 1
    probabilities = prediction["mode_probabilities"]  # by mode id; only the best path is decoded
    assert len(probabilities) == 3 and sum(probabilities) == pytest.approx(1, abs=1e-3)
    assert prediction["confidence"] == max(probabilities) and "modes" not in prediction
    assert body["model_version"].startswith("nfl_production_v2:") and body["inference_time_ms"] > 0


@pytest.mark.parametrize("k", [1, 2, 3])
def test_modes_k_returns_the_k_most_likely_trajectories(client: TestClient, k: int) -> None:
    """``modes: k``: k trajectories with their ids, most likely first, each with sigmas and rho; the best
    one is the default answer's path, and the probabilities are the default answer's."""
    default = client.post("/predict", json=GUIDE_REQUEST).json()["predictions"][0]
    body = client.post("/predict", json={**GUIDE_REQUEST, "modes": k}).json()
    prediction = body["predictions"][0]
    modes = prediction["modes"]
    assert len(modes) == k and [m["probability"] for m in modes] == sorted(
        (m["probability"] for m in modes), reverse=True
    )
    by_id = default["mode_probabilities"]
    assert [m["probability"] for m in modes] == sorted(by_id, reverse=True)[:k]
    assert all(by_id[m["mode"]] == m["probability"] for m in modes)
    assert modes[0]["positions"] == prediction["predicted_positions"] == default["predicted_positions"]
    assert all(len(m["sigma_x"]) == len(m["sigma_y"]) == len(m["rho"]) == 10 for m in modes)
    assert body["cached"] is False  # the cache keys on k too: k trajectories are not the default answer


def test_modes_beyond_the_model_is_a_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/predict", json={**GUIDE_REQUEST, "modes": 4})
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "modes"
    assert "the model predicts 3 modes" in response.json()["error"]["message"]
    batch = client.post("/predict_batch", json={"plays": [GUIDE_REQUEST, {**GUIDE_REQUEST, "modes": 9}]})
    assert batch.status_code == 422 and batch.json()["error"]["fields"][0]["field"] == "plays.1.modes"
    assert client.post("/predict", json={**GUIDE_REQUEST, "modes": 0}).status_code == 422


def test_a_batch_mixing_k_answers_each_play_with_its_own_k(client: TestClient) -> None:
    plays = [GUIDE_REQUEST, {**GUIDE_REQUEST, "modes": 3}, {**GUIDE_REQUEST, "modes": 1}]
    results = client.post("/predict_batch", json={"plays": plays}).json()["results"]
    assert [len(r["predictions"][0].get("modes", [])) for r in results] == [0, 3, 1]
    paths = {json.dumps(r["predictions"][0]["predicted_positions"]) for r in results}
    assert len(paths) == 1


@pytest.mark.parametrize("runtime", ["auto", "onnx_int8", "onnx", "torchscript"])
def test_outputs_equal_the_golden_outputs(example_export: Path, runtime: str) -> None:
    manifest = json.loads((example_export / "manifest.json").read_text())
    requests = json.loads((example_export / "golden/requests.json").read_text())
    golden = json.loads((example_export / "golden/outputs.json").read_text())
    if runtime != "auto" and runtime not in manifest["artifacts"]:
        # Dropped by its accuracy gate: the export says why, and the server refuses it by name.
        assert manifest["accuracy"][runtime]["kept"] is False
        with _client(example_export, runtime=runtime) as c:
            for _ in range(200):  # the model loads in the background after start-up
                message = c.get("/ready").json()["error"]["message"]
                if message != "model is loading":
                    break
                time.sleep(0.05)
        assert f"model failed to load: the export in {example_export} has no {runtime!r} artifact" in message
        return
    with _client(example_export, runtime=runtime, cache_size=0) as c:
        _wait_ready(c)
        artifact = c.get("/version").json()["artifact"]
        tolerance = manifest["golden"]["tolerance"][artifact] + 1e-3  # responses are rounded to 1 mm
        for request, expected in zip(requests, golden, strict=True):
            response = c.post("/predict", json=request)
            assert response.status_code == 200, response.text
            served = np.array([p["predicted_positions"] for p in response.json()["predictions"]])
            assert np.abs(served - np.array(expected["predicted_positions"])).max() <= tolerance
            assert [p["player_id"] for p in response.json()["predictions"]] == [
                p["nfl_id"] for p in request["players"]
            ]


def _player(**changes: Any) -> dict[str, Any]:
    return {**GUIDE_REQUEST["players"][0], **changes}  # type: ignore[dict-item]


def _body(**changes: Any) -> dict[str, Any]:
    return {**GUIDE_REQUEST, **changes}


HOSTILE: list[tuple[str, bytes | None, dict[str, str], int]] = [
    (
        "NaN literal",
        b'{"players": [{"x": NaN, "y": 26, "s": 5, "a": 0.5, "o": 90, "dir": 90}], "game_context": {"down": 1, "distance": 10}}',
        {},
        422,
    ),
    (
        "Infinity literal",
        json.dumps(_body(players=[_player(s=1)])).replace('"s": 1', '"s": Infinity').encode(),
        {},
        422,
    ),
    (
        "huge exponent",
        json.dumps(_body(players=[_player(y=1)])).replace('"y": 1', '"y": 1e999').encode(),
        {},
        422,
    ),
    ("string number", json.dumps(_body(players=[_player(x="50")])).encode(), {}, 422),
    ("null speed", json.dumps(_body(players=[_player(s=None)])).encode(), {}, 422),
    ("null body", b"null", {}, 422),
    ("no players", json.dumps(_body(players=[])).encode(), {}, 422),
    ("200 players", json.dumps(_body(players=[_player(nfl_id=i) for i in range(200)])).encode(), {}, 422),
    ("negative speed", json.dumps(_body(players=[_player(s=-3)])).encode(), {}, 422),
    ("off the field", json.dumps(_body(players=[_player(x=400)])).encode(), {}, 422),
    ("angle past 360", json.dumps(_body(players=[_player(dir=361)])).encode(), {}, 422),
    ("down 5", json.dumps(_body(game_context={"down": 5, "distance": 10})).encode(), {}, 422),
    ("down as string", json.dumps(_body(game_context={"down": "1", "distance": 10})).encode(), {}, 422),
    ("duplicate ids", json.dumps(_body(players=[_player(nfl_id=7), _player(nfl_id=7)])).encode(), {}, 422),
    ("unknown field", json.dumps(_body(extra={"a": 1})).encode(), {}, 422),
    ("nested junk", b'{"players": ' + b"[" * 5000 + b"]" * 5000 + b', "game_context": {}}', {}, 422),
    ("deep object", b'{"a":' * 20000 + b"1" + b"}" * 20000, {}, 422),
    ("long history", json.dumps(_body(players=[_player(history=[{"x": 1, "y": 1}] * 51)])).encode(), {}, 422),
    ("frames past 200", json.dumps(_body(num_frames_output=500)).encode(), {}, 422),
    ("truncated JSON", json.dumps(GUIDE_REQUEST).encode()[:40], {}, 422),
    ("not JSON", b"\x00\xff\xfe garbage", {}, 422),
    ("empty body", b"", {}, 422),
    ("10 MB body", b'{"players": [' + b" " * 10_000_000 + b"]}", {}, 413),
    ("wrong content type", json.dumps(GUIDE_REQUEST).encode(), {"content-type": "text/plain"}, 415),
    ("form content type", b"players=1", {"content-type": "application/x-www-form-urlencoded"}, 415),
]


@pytest.mark.parametrize(("name", "payload", "headers", "status"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_inputs_get_4xx_and_the_server_stays_healthy(
    client: TestClient, name: str, payload: bytes, headers: dict[str, str], status: int
) -> None:
    response = client.post(
        "/predict", content=payload, headers={"content-type": "application/json", **headers}
    )
    assert response.status_code == status, (name, response.text[:300])
    body = response.json()
    assert body["error"]["code"] and body["error"]["message"]
    assert client.get("/health").status_code == 200
    assert client.post("/predict", json=GUIDE_REQUEST).status_code == 200


def test_validation_errors_name_the_field(client: TestClient) -> None:
    response = client.post("/predict", json=_body(players=[_player(), _player(s=-1)]))
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "players.1.s"
    duplicate = client.post("/predict", json=_body(players=[_player(nfl_id=3), _player(nfl_id=3)]))
    assert "duplicate nfl_id values: [3]" in duplicate.json()["error"]["message"]


def test_optional_fields_and_num_frames_output(client: TestClient) -> None:
    request = _body(
        players=[
            _player(
                nfl_id=101,
                role=1,
                side=1,
                weight=195,
                history=[{"x": 49.0, "y": 26.0}, {"x": 49.5, "y": 26.0}],
            ),
            _player(nfl_id=202, x=60, y=30, dir=270, role=3, side=0),
        ],
        play_direction="left",
        ball_land_x=40.0,
        ball_land_y=20.0,
        num_frames_output=4,
    )
    body = client.post("/predict", json=request).json()
    assert [p["player_id"] for p in body["predictions"]] == [101, 202]
    assert body["horizon_frames"] == 4
    assert all(len(p["predicted_positions"]) == 4 for p in body["predictions"])

    # more frames than the model predicts: a 422 naming the horizon (it used to answer 10 frames and claim 11)
    beyond = client.post("/predict", json={**request, "num_frames_output": 11})
    assert beyond.status_code == 422, beyond.text
    error = beyond.json()["error"]
    assert error["fields"][0]["field"] == "num_frames_output" and "predicts 10 frames" in error["message"]
    full = client.post("/predict", json={**request, "num_frames_output": 10}).json()
    assert full["horizon_frames"] == 10 == len(full["predictions"][0]["predicted_positions"])
    batch = client.post("/predict_batch", json=[request, {**request, "num_frames_output": 12}])
    assert (
        batch.status_code == 422
        and batch.json()["error"]["fields"][0]["field"] == "plays.1.num_frames_output"
    )


def test_predict_batch(client: TestClient, example_export: Path) -> None:
    requests = json.loads((example_export / "golden/requests.json").read_text())
    single = [client.post("/predict", json=r).json() for r in requests]
    batch = client.post("/predict_batch", json={"plays": requests})
    assert batch.status_code == 200, batch.text
    results = batch.json()["results"]
    assert len(results) == 3
    bare = client.post("/predict_batch", json=requests)  # the deployment guide's body: a bare array
    assert bare.status_code == 200, bare.text
    assert [r["predictions"] for r in bare.json()["results"]] == [r["predictions"] for r in results]
    assert client.post("/predict_batch", json=[]).status_code == 422
    for one, many in zip(single, results, strict=True):
        a = np.array([p["predicted_positions"] for p in one["predictions"]])
        b = np.array([p["predicted_positions"] for p in many["predictions"]])
        assert np.abs(a - b).max() < 2e-3


def test_predict_batch_bound(example_export: Path) -> None:
    with _client(example_export, max_batch_plays=2) as c:
        _wait_ready(c)
        response = c.post("/predict_batch", json={"plays": [GUIDE_REQUEST] * 3})
        assert response.status_code == 413 and "max_batch_plays (2)" in response.json()["error"]["message"]
        bad = c.post("/predict_batch", json={"plays": [GUIDE_REQUEST, _body(players=[_player(s=-1)])]})
        assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "plays.1.players.0.s"


def test_cache_hits(example_export: Path) -> None:
    with _client(example_export, cache_size=8) as c:
        _wait_ready(c)
        first, second = (c.post("/predict", json=GUIDE_REQUEST).json() for _ in range(2))
        assert first["cached"] is False and second["cached"] is True
        assert first["predictions"] == second["predictions"]
        fewer = c.post("/predict", json={**GUIDE_REQUEST, "num_frames_output": 3}).json()
        assert fewer["cached"] is True and fewer["horizon_frames"] == 3  # the same play, cut from the entry
        assert (
            fewer["predictions"][0]["predicted_positions"]
            == first["predictions"][0]["predicted_positions"][:3]
        )
        metrics = c.get("/metrics").text
        assert "nfldeploy_cache_hits_total 2.0" in metrics and "nfldeploy_cache_misses_total 1.0" in metrics


def test_cache_keys_are_fixed_size_digests_of_what_the_model_sees() -> None:
    from nfldeploy.serving.app import _cache_key
    from nfldeploy.serving.schemas import PredictRequest

    small = PredictRequest.model_validate(GUIDE_REQUEST)
    history = [{"x": 40.0 + i / 10, "y": 26.0} for i in range(10)]
    large = PredictRequest.model_validate(
        {**GUIDE_REQUEST, "players": [{**GUIDE_REQUEST["players"][0], "history": history}] * 22}
    )
    assert len(large.model_dump_json()) > 10 * len(small.model_dump_json())
    assert len(_cache_key(small)) == len(_cache_key(large)) == 32 and _cache_key(small) != _cache_key(large)
    fewer = PredictRequest.model_validate({**GUIDE_REQUEST, "num_frames_output": 3})
    assert _cache_key(fewer) == _cache_key(small)


def test_service_routes(client: TestClient, example_export: Path) -> None:
    manifest = json.loads((example_export / "manifest.json").read_text())
    version = client.get("/version").json()
    assert version["config_sha256"] == manifest["config"]["sha256"]
    assert version["checkpoint_sha256"] == manifest["checkpoint"]["sha256"]
    assert version["model_sha256"] == manifest["artifacts"][version["artifact"]]["sha256"]
    assert client.get("/").json()["ready"] is True
    schema = client.get("/openapi.json").json()
    assert "PredictRequest" in schema["components"]["schemas"] and "/predict_batch" in schema["paths"]
    assert client.get("/health").json() == {"status": "ok"}


def test_request_id_is_honoured_or_generated(client: TestClient) -> None:
    assert client.get("/health", headers={"X-Request-ID": "trace-123"}).headers["x-request-id"] == "trace-123"
    generated = client.get("/health", headers={"X-Request-ID": "bad id\twith junk"}).headers["x-request-id"]
    assert len(generated) == 32 and " " not in generated


def test_metrics_pass_promtool(client: TestClient) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        from services import unavailable

        unavailable("promtool (Debian's prometheus package) is not installed")
    client.post("/predict", json=GUIDE_REQUEST)
    text = client.get("/metrics").text
    for name in (
        "nfldeploy_requests_total",
        "nfldeploy_request_duration_seconds_bucket",
        "nfldeploy_batch_size_bucket",
        "nfldeploy_model_inference_seconds_bucket",
        "nfldeploy_requests_in_flight",
        "nfldeploy_model_info",
    ):
        assert name in text, name
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_auth(
    example_export: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "s3cr3t-token-value-123"
    with _client(example_export, api_keys=(secret, "second-key")) as c, caplog.at_level(logging.INFO):
        assert c.get("/health").status_code == 200
        _wait_ready(c)
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": secret}):
            response = c.post("/predict", json=GUIDE_REQUEST, headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer")
        for path in ("/", "/version", "/metrics", "/openapi.json"):
            assert c.get(path).status_code == 401, path
        ok = c.post("/predict", json=GUIDE_REQUEST, headers={"Authorization": f"Bearer {secret}"})
        assert ok.status_code == 200
        assert c.get("/metrics", headers={"Authorization": "Bearer second-key"}).status_code == 200
        assert secret not in ok.text
    access = capsys.readouterr().out
    assert '"status":401' in access and '"caller":"key:' in access  # the access log has the requests...
    assert secret not in caplog.text and secret not in access  # ...and never the secret


def test_rate_limit(example_export: Path) -> None:
    with _client(example_export, rate_limit_rps=0.5, rate_limit_burst=3) as c:
        _wait_ready(c)
        statuses = [c.post("/predict", json=GUIDE_REQUEST).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = c.post("/predict", json=GUIDE_REQUEST)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert c.get("/health").status_code == 200  # probes are never limited


def test_clients_behind_a_trusted_proxy_get_their_own_limits_and_token_guessing_is_throttled(
    example_export: Path,
) -> None:
    """Over real HTTP from 127.0.0.1 (a trusted proxy by default, as the rendered nginx is): each client named
    by X-Forwarded-For has its own bucket; a spoofed prefix does not buy a fresh one; bad tokens from one
    address get 429 after the burst while a good token still works."""
    import httpx

    from functional_helpers import serving

    config = ServeConfig(
        model_dir=example_export,
        rate_limit_rps=0.01,
        rate_limit_burst=2,
        auth_failure_rps=0.01,
        auth_failure_burst=3,
        api_keys=("good-key",),
        access_log=False,
    )
    with serving(create_app(config)) as url, httpx.Client(base_url=url, timeout=30) as c:
        for _ in range(200):
            if c.get("/ready").status_code == 200:
                break
            time.sleep(0.05)
        good = {"Authorization": "Bearer good-key"}

        def predict(forwarded: str, headers: dict[str, str] = good) -> int:
            return c.post(
                "/predict", json=GUIDE_REQUEST, headers={**headers, "X-Forwarded-For": forwarded}
            ).status_code

        # with a key, the key is the caller: one bucket whatever the address
        assert [predict("203.0.113.1"), predict("203.0.113.2"), predict("203.0.113.3")] == [200, 200, 429]

        bad = {"Authorization": "Bearer guess"}
        guesses = [predict("198.51.100.7", bad) for _ in range(5)]
        assert guesses == [401, 401, 401, 429, 429]
        assert predict("1.2.3.4, 198.51.100.7", bad) == 429  # a spoofed prefix is the same client
        assert predict("198.51.100.8", bad) == 401  # another address has its own failure bucket
        throttled = c.post("/version", headers={**bad, "X-Forwarded-For": "198.51.100.7"})
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1

    open_config = ServeConfig(
        model_dir=example_export, rate_limit_rps=0.01, rate_limit_burst=2, access_log=False
    )
    with serving(create_app(open_config)) as url, httpx.Client(base_url=url, timeout=30) as c:
        for _ in range(200):
            if c.get("/ready").status_code == 200:
                break
            time.sleep(0.05)

        def anonymous(forwarded: str) -> int:
            return c.post("/predict", json=GUIDE_REQUEST, headers={"X-Forwarded-For": forwarded}).status_code

        assert [anonymous("203.0.113.1") for _ in range(3)] == [200, 200, 429]
        assert anonymous("203.0.113.2") == 200  # without keys, clients are told apart by address
        assert anonymous("203.0.113.2, 203.0.113.1") == 429  # the rightmost untrusted hop is the client


def test_not_ready_is_503_never_500(tmp_path: Path, example_export: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(example_export, broken)
    (broken / "model.onnx").write_bytes(b"not a model")
    with _client(broken) as c:
        for _ in range(100):
            ready = c.get("/ready")
            if "failed" in ready.text:
                break
            time.sleep(0.05)
        assert ready.status_code == 503 and "does not match its manifest" in ready.json()["error"]["message"]
        assert c.post("/predict", json=GUIDE_REQUEST).status_code == 503
        assert c.get("/health").status_code == 200
    with _client(tmp_path / "nothing") as c:
        time.sleep(0.2)
        assert (
            c.get("/ready").status_code == 503 and c.post("/predict", json=GUIDE_REQUEST).status_code == 503
        )


def test_serving_imports_neither_torch_nor_cloud_sdks(example_export: Path) -> None:
    """Importing the server, the app and the Lambda handler (which loads the ONNX model at import: Lambda's
    init) pulls in neither torch nor a cloud SDK."""
    code = (
        "import sys, nfldeploy.serving.app, nfldeploy.serving.lambda_handler, nfldeploy.serving.server;"
        "bad = [m for m in ('torch', 'docker', 'boto3', 'google.cloud.run_v2', 'typer') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={"NFLSERVE_MODEL_DIR": str(example_export), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("model_thread", [False, True])
def test_a_failing_or_hanging_model_is_a_503_or_504_and_the_server_keeps_serving(
    example_export: Path, monkeypatch: pytest.MonkeyPatch, model_thread: bool
) -> None:
    import threading

    from nfldeploy.serving.predictor import Predictor

    mode = {"now": "ok"}
    release = threading.Event()
    real = Predictor.run_plays

    def injected(self: Predictor, plays: Any, modes: Any = 1) -> Any:
        if mode["now"] == "raise":
            raise FloatingPointError("the runtime failed")
        if mode["now"] == "hang":
            release.wait(5)
        return real(self, plays, modes)

    monkeypatch.setattr(Predictor, "run_plays", injected)
    with _client(example_export, model_thread=model_thread, request_timeout_ms=300) as c:
        _wait_ready(c)
        mode["now"] = "raise"
        failed = c.post("/predict", json=GUIDE_REQUEST, headers={"X-Request-ID": "req-failing-1"})
        assert failed.status_code == 503 and failed.headers["Retry-After"] == "1"
        assert (
            failed.json()["error"]["code"] == "model_error" and failed.json()["request_id"] == "req-failing-1"
        )
        assert "FloatingPointError" not in failed.text  # the cause is logged, not shown
        batch = c.post("/predict_batch", json=[GUIDE_REQUEST])
        assert batch.status_code == 503 and batch.json()["error"]["code"] == "model_error"
        if model_thread:  # a model on its own thread can be waited for with a deadline
            mode["now"] = "hang"
            hung = c.post("/predict", json={**GUIDE_REQUEST, "num_frames_output": 2})
            assert hung.status_code == 504 and hung.json()["error"]["code"] == "timeout"
            release.set()
        mode["now"] = "ok"
        assert c.post("/predict", json=GUIDE_REQUEST).status_code == 200  # still serving
        metrics = c.get("/metrics").text
        assert 'reason="model_error"' in metrics


@pytest.mark.parametrize("size", [2_000_000, 10_000_000])
def test_oversized_bodies_get_a_413_every_common_client_can_read(
    example_export: Path, tmp_path: Path, size: int
) -> None:
    """Over real HTTP: the refused body is drained before the answer, so clients that send it whole before
    reading (urllib, requests) see the 413 instead of "connection reset by peer"; chunked bodies too."""
    import shutil as _shutil
    import urllib.error
    import urllib.request

    import httpx
    import requests

    from functional_helpers import app_for, serving

    body = b'{"players": [' + b" " * size + b"]}"
    headers = {"Content-Type": "application/json"}
    with serving(app_for(example_export)) as url:
        seen = {}
        seen["httpx"] = httpx.post(url + "/predict", content=body, headers=headers, timeout=60).status_code
        seen["requests"] = requests.post(url + "/predict", data=body, headers=headers, timeout=60).status_code
        try:
            urllib.request.urlopen(
                urllib.request.Request(url + "/predict", data=body, headers=headers), timeout=60
            )
        except urllib.error.HTTPError as exc:
            seen["urllib"] = exc.code
            assert json.loads(exc.read())["error"]["code"] == "body_too_large"
        chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
        seen["chunked"] = httpx.post(
            url + "/predict", content=chunks, headers=headers, timeout=60
        ).status_code
        if _shutil.which("curl"):
            (tmp_path / "body").write_bytes(body)
            command = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"]
            command += ["-H", "Content-Type: application/json", "--data-binary", f"@{tmp_path / 'body'}"]
            curl = subprocess.run(
                [*command, url + "/predict"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            seen["curl"] = int(curl.stdout or 0)
        assert set(seen.values()) == {413}, seen
        assert httpx.get(url + "/health").status_code == 200


def test_predict_batch_goes_through_the_bounded_queue_and_health_answers_under_batch_load(
    example_export: Path,
) -> None:
    import concurrent.futures

    import httpx

    from functional_helpers import app_for, serving

    plays = json.loads((example_export / "golden/requests.json").read_text())
    batch = [plays[i % len(plays)] for i in range(64)]
    with serving(app_for(example_export, queue_size=32)) as url, httpx.Client(base_url=url, timeout=60) as c:
        for _ in range(200):
            if c.get("/ready").status_code == 200:
                break
            time.sleep(0.05)
        # 64 plays cannot fit a queue of 32: a 503 with Retry-After, not a stall
        full = c.post("/predict_batch", json=batch)
        assert full.status_code == 503 and full.headers["Retry-After"] == "1"
        assert full.json()["error"]["code"] == "overloaded"
    # calls of 32 plays, whatever cap the export measured (tested on its own below)
    with (
        serving(app_for(example_export, cache_size=0, max_batch=32)) as url,
        httpx.Client(base_url=url, timeout=60) as c,
    ):
        for _ in range(200):
            if c.get("/ready").status_code == 200:
                break
            time.sleep(0.05)
        stop = time.monotonic() + 4.0

        def load() -> list[int]:
            with httpx.Client(base_url=url, timeout=60) as worker:
                statuses = []
                while time.monotonic() < stop:
                    statuses.append(worker.post("/predict_batch", json=batch).status_code)
                return statuses

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            loads = [pool.submit(load) for _ in range(8)]
            time.sleep(0.5)
            health = []
            while time.monotonic() < stop - 0.5:
                started = time.monotonic()
                health.append((c.get("/health", timeout=10).status_code, time.monotonic() - started))
                time.sleep(0.05)
            statuses = [status for future in loads for status in future.result()]
        assert health and all(status == 200 for status, _ in health), health
        assert statuses and set(statuses) <= {200, 503}, set(statuses)
        assert statuses.count(200) >= 8


def test_the_batch_cap_comes_from_the_exports_measurement_unless_set(example_export: Path) -> None:
    """The export times its serving artifact at batches of 1..32 plays; the server batches up to the largest
    size that does not cost more per play, says so in /version, and NFLSERVE_MAX_BATCH overrides it."""
    manifest = json.loads((example_export / "manifest.json").read_text())
    batching = manifest["batching"]
    costs = {int(size): cost for size, cost in batching["ms_per_play"].items()}
    assert sorted(costs) == [1, 2, 4, 8, 16, 32] and all(cost > 0 for cost in costs.values())
    assert batching["max_batch"] in costs and costs[batching["max_batch"]] <= 1.1 * min(costs.values())
    with _client(example_export) as c:
        _wait_ready(c)
        measured = c.get("/version").json()["batching"]
    assert (
        measured["max_batch"] == batching["max_batch"] and measured["source"] == "measured at export (onnx)"
    )
    assert measured["ms_per_play"] == batching["ms_per_play"]
    with _client(example_export, max_batch=3) as c:
        _wait_ready(c)
        assert c.get("/version").json()["batching"] | {"ms_per_play": None} == {
            "enabled": True,
            "max_batch": 3,
            "source": "setting",
            "ms_per_play": None,
        }
    with _client(example_export, batching=False) as c:
        _wait_ready(c)
        assert c.get("/version").json()["batching"]["max_batch"] == 1
