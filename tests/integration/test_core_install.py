"""nfldeploy's wheel installed into a clean venv with the core dependencies only (no export, serve or lambda
extra): every command starts, the commands that need no extra run, and the others name the extra to install."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from nfldeploy import __version__
from nfldeploy.own_wheel import cache_root, project_wheel
from services import TEST_REPOSITORY, base_image

pytestmark = pytest.mark.slow

COMMANDS = [
    [],
    ["config"],
    ["config", "show"],
    ["config", "validate"],
    *([name] for name in ("up", "doctor", "export", "serve", "render", "build", "push", "deploy")),
    *([name] for name in ("status", "rollback", "smoke-test", "bench", "logs", "checklist", "report")),
]


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv holding nfldeploy's wheel and its core dependencies, from the package index."""
    root = tmp_path_factory.mktemp("core-install")
    wheel = project_wheel(root / "dist")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True)
    pip = [str(root / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    installed = subprocess.run(
        [*pip, "--disable-pip-version-check", str(wheel)], capture_output=True, text=True, check=False
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    yield root / "venv"


def _run(
    venv: Path, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "DOCKER_HOST")
    environ = {key: value for key, value in os.environ.items() if key in keep}
    environ.update(HOME=str(cwd), COLUMNS="200", NO_COLOR="1", KUBECONFIG=str(cwd / "no-kubeconfig"))
    environ.update(env or {})
    return subprocess.run(
        [str(venv / "bin" / "nfldeploy"), *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_core_install_lacks_every_extra(core_venv: Path) -> None:
    for module in ("numpy", "torch", "onnxruntime", "fastapi", "uvicorn", "mangum"):
        probe = subprocess.run([str(core_venv / "bin" / "python"), "-c", f"import {module}"], check=False)
        assert probe.returncode != 0, f"{module} is installed: the test would prove nothing"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "nfldeploy")
def test_every_help_starts(core_venv: Path, tmp_path: Path, command: list[str]) -> None:
    result = _run(core_venv, tmp_path, *command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout and "Traceback" not in result.stderr


def test_commands_without_an_extra_run(
    core_venv: Path, tmp_path: Path, example_config: Path, example_export: Path
) -> None:
    assert _run(core_venv, tmp_path, "config", "validate", str(example_config)).returncode == 0
    shown = _run(core_venv, tmp_path, "config", "show", "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["settings"]["service_name"]

    rendered = _run(core_venv, tmp_path, "render", str(example_export), "--out", str(tmp_path / "deploy"))
    assert rendered.returncode == 0, rendered.stderr
    assert (tmp_path / "deploy" / "cloudrun" / "service.yaml").is_file()

    doctor = _run(core_venv, tmp_path, "doctor", "--json")
    assert doctor.returncode in (0, 1), doctor.stderr  # 1 when this machine has no Docker engine
    checks = {check["name"]: check for check in json.loads(doctor.stdout)["checks"]}
    for extra in ("export", "serve", "lambda"):
        assert checks[f"extra {extra}"]["status"] == "warn"
        assert checks[f"extra {extra}"]["hint"] == f"pip install 'nfldeploy[{extra}]'"

    # The cloud commands run and fail on what is missing here (no credentials, no project), not on imports.
    lambda_status = _run(core_venv, tmp_path, "status", "--target", "lambda")
    assert lambda_status.returncode == 4 and "credentials" in lambda_status.stderr, lambda_status.stderr
    cloudrun = _run(core_venv, tmp_path, "deploy", "--target", "cloudrun", "--image", "r/i:1", "--dry-run")
    assert cloudrun.returncode == 1 and "project" in cloudrun.stderr, cloudrun.stderr
    rollback = _run(core_venv, tmp_path, "rollback", "--target", "kubernetes")
    assert rollback.returncode in (1, 4) and "Traceback" not in rollback.stderr, rollback.stderr
    logs = _run(core_venv, tmp_path, "logs", "--target", "lambda")
    assert logs.returncode == 4 and "credentials" in logs.stderr, logs.stderr
    checklist = _run(core_venv, tmp_path, "checklist", "--json")
    assert checklist.returncode == 3 and '"model_exported"' in checklist.stdout, checklist.stderr
    report = _run(core_venv, tmp_path, "report", "--out", "report.html")
    assert report.returncode == 0 and (tmp_path / "report.html").is_file(), report.stderr


@pytest.mark.parametrize(
    ("command", "extra"),
    [(["export", "{config}"], "export"), (["serve", "{export}"], "serve"), (["up", "{config}"], "export")],
    ids=["export", "serve", "up"],
)
def test_commands_needing_an_extra_name_it(
    core_venv: Path,
    tmp_path: Path,
    example_config: Path,
    example_export: Path,
    command: list[str],
    extra: str,
) -> None:
    args = [arg.format(config=example_config, export=example_export) for arg in command]
    result = _run(core_venv, tmp_path, *args)
    assert result.returncode == 1, result.stderr
    assert f"pip install 'nfldeploy[{extra}]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_core_install_repacks_its_own_wheel(core_venv: Path, tmp_path: Path) -> None:
    """Installed from a wheel (no checkout to build from), nfldeploy repacks the installed files: the same
    files as the wheel it came from, with a RECORD whose hashes pip checks on install."""
    script = (
        "from pathlib import Path; from nfldeploy.own_wheel import project_wheel as w; print(w(Path('out')))"
    )
    made = subprocess.run(
        [str(core_venv / "bin" / "python"), "-c", script], cwd=tmp_path, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    repacked = Path(tmp_path / made.stdout.strip())
    original = next((core_venv.parent / "dist").glob("nfldeploy-*.whl"))
    assert repacked.name == original.name
    with zipfile.ZipFile(original) as a, zipfile.ZipFile(repacked) as b:
        assert sorted(b.namelist()) == sorted(a.namelist())
        changed = [n for n in a.namelist() if not n.endswith("RECORD") and a.read(n) != b.read(n)]
        assert changed == []
    check = tmp_path / "check"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(check)], check=True)
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(check / "t"),
            str(repacked),
        ],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr
    assert (check / "t" / "nfldeploy" / "templates" / "docker" / "server.Dockerfile.j2").is_file()


@pytest.mark.docker
def test_the_core_install_builds_the_serving_image(
    core_venv: Path, tmp_path: Path, example_export: Path, docker_client: Any
) -> None:
    export = tmp_path / "exported_models"
    shutil.copytree(example_export, export)
    tag = f"{TEST_REPOSITORY}core-{uuid.uuid4().hex[:6]}:1"
    cache = {"NFLDEPLOY_CACHE_DIR": str(cache_root().parent)}
    built = _run(
        core_venv,
        tmp_path,
        "build",
        str(export),
        "--tag",
        tag,
        "--set",
        f"base_image={base_image()}",
        "--quiet",
        env=cache,
    )
    try:
        assert built.returncode == 0, built.stderr
        assert next((export.parent / "build-context" / "server-onnx" / "dist").glob("nfldeploy-*.whl"))
        probe = "import nfldeploy.serving.app, nfldeploy; print(nfldeploy.__version__)"
        output = docker_client.containers.run(tag, entrypoint=["python", "-c", probe], remove=True)
        assert output.decode().strip() == __version__
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(tag, force=True)


def test_the_wheel_setting_goes_flag_then_env_then_file(
    core_venv: Path, tmp_path: Path, example_export: Path
) -> None:
    """Each source names a different missing wheel: the error names the one that won."""
    (tmp_path / "nfldeploy.toml").write_text('nfldeploy_wheel = "file.whl"\n')
    env = {"NFLDEPLOY_WHEEL": "env.whl"}
    flag = _run(
        core_venv, tmp_path, "build", str(example_export), "--set", "nfldeploy_wheel=flag.whl", env=env
    )
    assert flag.returncode == 1 and "flag.whl" in flag.stderr, flag.stderr
    from_env = _run(core_venv, tmp_path, "build", str(example_export), env=env)
    assert from_env.returncode == 1 and "env.whl" in from_env.stderr, from_env.stderr
    from_file = _run(core_venv, tmp_path, "build", str(example_export))
    assert from_file.returncode == 1 and "file.whl" in from_file.stderr, from_file.stderr
