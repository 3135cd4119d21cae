"""Shared fixtures: the real Docker engine, local registries, moto's server, the example run."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from services import (
    TEST_REPOSITORY,
    Registry,
    base_image,
    free_port,
    image_tags,
    start_registry,
    unavailable,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = ROOT / "examples" / "outputs" / "nfl_production_v2_config.json"
#: The files that take a minute or more. They are collected first so that, with ``--no-loadscope-reorder``
#: (scripts/check), the xdist workers start on them and no worker ends the run alone on one of them; the
#: second (no example export) keeps a core busy while the first makes the export the others share. Only the
#: order changes: a file missing here runs after them.
LONGEST_FIRST = (
    "integration/test_workflow_lambda.py",
    "integration/test_image.py",
    "functional/test_export_graph.py",
    "integration/test_deploy_cli.py",
    "integration/test_workflow.py",
    "functional/test_upstream_parity.py",
    "functional/test_export.py",
    "integration/test_core_install.py",
    "integration/test_cloudrun_target.py",
    "functional/test_api_fuzz.py",
    "integration/test_up_in_process.py",
    "integration/test_sam_local.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::")[0].removeprefix("tests/")
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a file, and of the other files, is kept


def _is_test_tag(tag: str) -> bool:
    return TEST_REPOSITORY in tag


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


@pytest.fixture(scope="session", autouse=True)
def _remove_test_images() -> Iterator[None]:
    """At the end of the session, even after failures: remove every image this session's tests created
    (tagged under its TEST_REPOSITORY, or left dangling by a rebuilt tag) and the test tags it added to older
    images."""
    from nfldeploy.errors import DockerUnavailable
    from nfldeploy.image.engine import connect

    try:
        client = connect(timeout=30)
    except DockerUnavailable:
        yield
        return
    before = {image: set(tags) for image, tags in image_tags(client).items()}
    sessions = Path(tempfile.gettempdir()) / "nfldeploy-test-sessions"
    sessions.mkdir(exist_ok=True)
    (sessions / str(os.getpid())).touch()
    yield
    (sessions / str(os.getpid())).unlink(missing_ok=True)
    # another session on this engine may still need the images its rebuilt tags left dangling
    alone = not any(_alive(int(other.name)) for other in sessions.iterdir() if other.name.isdigit())
    for image, tags in image_tags(client).items():
        # this session's tags (an image goes with its last tag; one another test process also tagged stays
        # until that process removes its own), and with no session left, what rebuilt tags left dangling
        doomed = [tag for tag in tags if _is_test_tag(tag) and tag not in before.get(image, set())]
        if not tags and alone and image not in before:
            doomed = [image]
        for reference in doomed:
            # an image still used by another process's container (or already removed by another test
            # process) is left alone
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(reference, force=reference != image)
    client.close()


@pytest.fixture(scope="session")
def example_config() -> Path:
    return EXAMPLE_CONFIG


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """A folder ``make`` fills once per test run: in this process, or under pytest-xdist by the first worker
    that asks (the others wait on its lock and share the result, read-only)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        folder = tmp_path_factory.mktemp(name)
        make(folder)
        return folder
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp().parent  # one per run, shared by its workers
    folder, done = root / name, root / f"{name}.done"
    with FileLock(str(root / f"{name}.lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def example_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example run exported once per test run (all formats, INT8 gated)."""
    from nfldeploy.export.pipeline import ExportOptions, run_export

    def make(folder: Path) -> None:
        run_export(ExportOptions(config=EXAMPLE_CONFIG, out=folder / "exported_models"))

    return made_once(tmp_path_factory, "export", make) / "exported_models"


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A Docker SDK client for the real engine, with the local base image present."""
    from nfldeploy.errors import DockerUnavailable
    from nfldeploy.image.engine import connect

    try:
        client = connect(timeout=120)
    except DockerUnavailable as exc:
        unavailable(f"no Docker engine: {exc.message}")
    try:
        client.images.get(base_image())
    except docker.errors.ImageNotFound:
        unavailable(f"the base image {base_image()} is missing")
    yield client
    client.close()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A local registry without auth."""
    reg = start_registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A local registry with htpasswd auth (user 'tester', password 's3cret-pw')."""
    reg = start_registry(tmp_path_factory.mktemp("auth-registry"), "tester", "s3cret-pw")
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's server speaking the real AWS HTTP APIs; yields its endpoint URL."""
    import os

    from moto.server import ThreadedMotoServer

    import moto_extensions
    import sts_web_identity

    moto_extensions.install()
    sts_web_identity.install()
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # AWS managed policies, as in a real account
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def ecr_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The registry that stands behind moto's ECR when a test asks (``ecr_behind_moto``): it demands moto's
    ECR token."""
    from ecr_registry import ecr_password

    reg = start_registry(tmp_path_factory.mktemp("ecr-registry"), "AWS", ecr_password())
    yield reg
    reg.stop()


@pytest.fixture
def ecr_behind_moto(moto_server: str, ecr_storage: Registry) -> Iterator[Any]:
    """moto's ECR with a registry behind it for this test: repositories it creates are pushed to for real
    (tests/ecr_registry.py)."""
    import ecr_registry

    registry = ecr_registry.EcrRegistry(ecr_storage)
    ecr_registry.install(registry)
    yield registry
    ecr_registry.uninstall()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, moto_server: str) -> str:
    """Fake AWS credentials in the environment (moto accepts any)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-value")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return moto_server


def _build_example(client: Any, example_export: Path, workdir: Path, kind: str, name: str) -> Iterator[str]:
    """The example's image of ``kind`` from a copy of the export, removed afterwards."""
    import uuid

    from nfldeploy.image.pipeline import build
    from nfldeploy.render.dockerfile import ImageSpec

    export = workdir / "exported_models"
    shutil.copytree(example_export, export)
    result = build(
        export,
        ImageSpec(kind=kind, base_image=base_image()),
        f"{TEST_REPOSITORY}{name}-{uuid.uuid4().hex[:6]}",
        client=client,
    )
    yield result.tag
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.remove(result.tag, force=True)


@pytest.fixture(scope="session")
def server_image(
    docker_client: Any, example_export: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The example's ONNX server image, built once per session (a tag of its own)."""
    yield from _build_example(
        docker_client, example_export, tmp_path_factory.mktemp("server"), "server", "srv"
    )


@pytest.fixture(scope="session")
def pushed_image(docker_client: Any, server_image: str, registry: Registry) -> Iterator[str]:
    """``server_image`` pushed to the local registry, as ``host:port/repo@sha256:...``."""
    from nfldeploy.image.push import push_image

    reference, digest = push_image(docker_client, server_image, registry.address)
    yield f"{reference.rsplit(':', 1)[0]}@{digest}"
    with contextlib.suppress(docker.errors.ImageNotFound):
        docker_client.images.remove(reference, force=True)


@pytest.fixture(scope="session")
def retrained_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second model of the example's shape (its checkpoint with every weight perturbed, as a retraining
    would change it), exported: a canary that answers differently from ``example_export``."""

    def make(folder: Path) -> None:
        import torch

        from nfldeploy.export.pipeline import ExportOptions, run_export

        checkpoint = torch.load(ROOT / "examples/checkpoints/nfl_production_v2-best.ckpt", weights_only=False)
        generator = torch.Generator().manual_seed(7)
        for key, tensor in checkpoint["state_dict"].items():
            if tensor.is_floating_point() and tensor.numel() > 1:
                noise = torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype)
                checkpoint["state_dict"][key] = tensor + 0.1 * tensor.std() * noise
        torch.save(checkpoint, folder / "retrained.ckpt")
        run_export(
            ExportOptions(
                config=EXAMPLE_CONFIG,
                checkpoint=folder / "retrained.ckpt",
                formats=("onnx",),
                quantize="none",
                out=folder / "exported_models",
            )
        )

    return made_once(tmp_path_factory, "retrained", make) / "exported_models"


@pytest.fixture(scope="session")
def retrained_pushed_image(
    docker_client: Any, retrained_export: Path, registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``retrained_export``'s server image pushed to the local registry, by digest."""
    from nfldeploy.image.push import push_image

    for tag in _build_example(
        docker_client, retrained_export, tmp_path_factory.mktemp("retrained-image"), "server", "retrained"
    ):
        reference, digest = push_image(docker_client, tag, registry.address)
        yield f"{reference.rsplit(':', 1)[0]}@{digest}"
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(reference, force=True)


@pytest.fixture(scope="session")
def lambda_image(
    docker_client: Any, example_export: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The example's Lambda image (awslambdaric + the handler), built once per session."""
    yield from _build_example(
        docker_client, example_export, tmp_path_factory.mktemp("lambda"), "lambda", "fn"
    )


@pytest.fixture(scope="session")
def function_url_front(
    docker_client: Any, moto_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """Lambda function URLs served as AWS serves them (tests/function_urls.py): point a client at it with
    ``front.client()`` or ``front.routing(monkeypatch)``; its warm execution environments (the images under
    AWS's Runtime Interface Emulator) are shared by the session's tests and removed at its end."""
    from function_urls import FunctionUrlFront
    from lambda_rie import require_rie

    require_rie()
    front = FunctionUrlFront(docker_client, moto_server, tmp_path_factory.mktemp("function-urls")).start()
    yield front
    front.close()
