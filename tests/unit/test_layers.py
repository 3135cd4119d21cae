"""The package's layers: no import cycle between its parts, and each SDK reached through its facade only.

Imports are read from the source (every ``import`` statement, also the lazy ones inside functions), so the
check holds for code paths no test runs."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "nfldeploy"

#: Which modules may import each SDK (paths relative to the package).
FACADES = {
    "boto3": ("cloud/aws.py",),
    "botocore": ("cloud/aws.py",),
    "google": ("cloud/gcp.py",),
    "docker": ("image/",),
}


def _part(path: Path) -> str:
    """The part of the package a module belongs to: its subpackage, or the module itself at the top."""
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, as dotted names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        part = _part(path)
        edges = graph.setdefault(part, set())
        for name in _imports(path):
            pieces = name.split(".")
            inside = pieces[0] == "nfldeploy" and len(pieces) > 1 and pieces[1] != part
            if inside and ((PACKAGE / pieces[1]).is_dir() or (PACKAGE / f"{pieces[1]}.py").is_file()):
                edges.add(pieces[1])
    return graph


def test_the_parts_of_the_package_import_each_other_without_cycles() -> None:
    graph = _graph()
    assert {"cloud", "records", "targets", "image", "cli"} <= set(graph)
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle between parts of nfldeploy: {' -> '.join(exc.args[1])}")
    assert order.index("records") < order.index("image") < order.index("targets") < order.index("cli")
    assert order.index("cloud") < order.index("targets")


def test_the_cycle_check_sees_a_cycle() -> None:
    graph = {**_graph(), "records": {"cli"}}
    with pytest.raises(graphlib.CycleError):
        list(graphlib.TopologicalSorter(graph).static_order())


@pytest.mark.parametrize("sdk", sorted(FACADES))
def test_each_sdk_is_imported_by_its_facade_only(sdk: str) -> None:
    offenders = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name.split(".")[0] == sdk for name in _imports(path))
        and not str(path.relative_to(PACKAGE)).startswith(FACADES[sdk])
    )
    assert offenders == [], f"{sdk} imported outside {FACADES[sdk]}"


def test_the_serving_image_needs_neither_torch_nor_a_cloud_sdk_to_serve_onnx() -> None:
    """serving/ reaches boto3 only through the facade and only for a Secrets Manager ARN (Lambda)."""
    for path in (PACKAGE / "serving").rglob("*.py"):
        top_level = {
            name
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.Import | ast.ImportFrom)
            for name in _imports_of(node)
        }
        assert not {"torch", "nfldeploy.cloud.aws", "nfldeploy.export"} & top_level, path


def _imports_of(node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name.split(".")[0] for alias in node.names}
    module = node.module or ""
    return {module.split(".")[0], module}
