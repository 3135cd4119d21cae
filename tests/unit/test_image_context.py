"""Pure parts of image building: requirements from the wheel's metadata, pins, references."""

from __future__ import annotations

import pytest

from manifests import sample_manifest
from nfldeploy.image.context import image_requirements, model_files
from nfldeploy.image.references import split_reference, target_reference
from nfldeploy.render.dockerfile import ImageSpec

REQUIRES = [
    "typer>=0.29",
    "pydantic>=2.6",
    "pydantic>=2.6; extra == 'serve'",
    "fastapi>=0.110; extra == 'serve'",
    "onnxruntime>=1.17; extra == 'serve'",
    "mangum>=0.17; extra == 'lambda'",
    "nfldeploy[serve]; extra == 'lambda'",
    "torch==2.13.0; extra == 'export'",
    "docker>=7.1; extra == 'cloud'",
    "pytest>=8; extra == 'dev'",
]


def test_server_image_requirements_are_the_serve_extra_only() -> None:
    # No torch, no cloud SDKs, and none of the CLI's own dependencies (typer).
    assert image_requirements(ImageSpec(), REQUIRES) == [
        "fastapi>=0.110",
        "onnxruntime>=1.17",
        "pydantic>=2.6",
    ]


def test_lambda_and_torchscript_variants() -> None:
    assert "mangum>=0.17" in image_requirements(ImageSpec(kind="lambda"), REQUIRES)
    assert "torch==2.13.0" in image_requirements(ImageSpec(runtime="torchscript"), REQUIRES)
    assert "mangum>=0.17" not in image_requirements(ImageSpec(), REQUIRES)


def test_model_files_are_the_served_artifact_and_its_lineage() -> None:
    entry = {"sha256": "00" * 32, "bytes": 1}
    names = ("model.onnx", "model.torchscript.pt", "run_config.json", "golden/requests.json")
    manifest = sample_manifest(files={name: entry for name in names})
    assert model_files(manifest, "onnx") == [
        "golden/requests.json",
        "manifest.json",
        "model.onnx",
        "run_config.json",
    ]


@pytest.mark.parametrize(
    ("reference", "registry", "expected"),
    [
        ("nfldeploy/app:abc", "127.0.0.1:5000", "127.0.0.1:5000/nfldeploy/app:abc"),
        ("nfldeploy/app:abc", None, "nfldeploy/app:abc"),
        ("127.0.0.1:5000/nfldeploy/app:abc", "127.0.0.1:5000", "127.0.0.1:5000/nfldeploy/app:abc"),
        (
            "old.registry.io/nfldeploy/app:abc",
            "us-docker.pkg.dev/p/r",
            "us-docker.pkg.dev/p/r/nfldeploy/app:abc",
        ),
        ("nfldeploy/app", "localhost:5000", "localhost:5000/nfldeploy/app:latest"),
        ("nfl.app:abc", "127.0.0.1:5000", "127.0.0.1:5000/nfl.app:abc"),  # a dot, but no registry host
    ],
)
def test_target_reference(reference: str, registry: str | None, expected: str) -> None:
    assert target_reference(reference, registry) == expected


def test_split_reference() -> None:
    assert split_reference("127.0.0.1:5000/a/b:v1") == ("127.0.0.1:5000/a/b", "v1")
    assert split_reference("127.0.0.1:5000/a/b") == ("127.0.0.1:5000/a/b", "latest")


def test_registry_auth_picks_by_host(monkeypatch: pytest.MonkeyPatch) -> None:
    from nfldeploy.cloud import aws, gcp
    from nfldeploy.image.push import registry_auth

    calls: list[str] = []
    monkeypatch.setattr(
        aws,
        "ecr_login",
        lambda region: calls.append(f"ecr:{region}") or {"username": "AWS", "password": "x"},
    )
    monkeypatch.setattr(
        gcp,
        "artifact_registry_login",
        lambda: calls.append("gcp") or {"username": "oauth2accesstoken", "password": "y"},
    )
    monkeypatch.setenv("NFLDEPLOY_REGISTRY_USERNAME", "u")
    monkeypatch.setenv("NFLDEPLOY_REGISTRY_PASSWORD", "p")
    assert registry_auth("auto", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1", "us-east-1") == {
        "username": "AWS",
        "password": "x",
    }
    assert (
        registry_auth("auto", "us-docker.pkg.dev/proj/repo/app:1", "us-east-1")["username"]
        == "oauth2accesstoken"
    )  # type: ignore[index]
    assert registry_auth("auto", "127.0.0.1:5000/app:1", "us-east-1") == {"username": "u", "password": "p"}
    assert registry_auth("docker", "127.0.0.1:5000/app:1", "us-east-1") is None
    assert calls == ["ecr:eu-west-1", "gcp"]
