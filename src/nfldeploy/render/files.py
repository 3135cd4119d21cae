"""``nfldeploy render``: every deploy file, from one set of inputs, checked against the platforms' limits."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nfldeploy.errors import ConfigError
from nfldeploy.render import views, workflow_install
from nfldeploy.render.actions import check_pinned
from nfldeploy.render.environment import render_template
from nfldeploy.render.limits import check_cloudrun, check_lambda

# group -> (limit check, [(template, output path, view builder)])
GROUPS: dict[
    str, tuple[Callable[..., None] | None, list[tuple[str, str, Callable[[views.Inputs], dict[str, Any]]]]]
] = {
    "cloudrun": (check_cloudrun, [("cloudrun/service.yaml.j2", "cloudrun/service.yaml", views.cloudrun)]),
    "lambda": (
        check_lambda,
        [
            ("aws/template.yaml.j2", "aws/template.yaml", views.sam),
            ("aws/deployer-policy.json.j2", "aws/deployer-policy.json", views.deployer_policy),
            (
                "aws/execution-role-policy.json.j2",
                "aws/execution-role-policy.json",
                views.execution_role_policy,
            ),
        ],
    ),
    "kubernetes": (None, [("kubernetes/deployment.yaml.j2", "kubernetes/deployment.yaml", views.kubernetes)]),
    "github": (None, [("github/workflow.yml.j2", "github/workflows/nfldeploy.yml", views.workflow)]),
    "compose": (
        None,
        [
            ("compose/docker-compose.yml.j2", "compose/docker-compose.yml", views.compose),
            ("compose/prometheus.yml.j2", "compose/prometheus.yml", views.compose),
            ("nginx/nginx.conf.j2", "compose/nginx.conf", views.compose),
            (
                "compose/grafana/datasource.yml.j2",
                "compose/grafana/provisioning/datasources/prometheus.yml",
                views.compose,
            ),
            (
                "compose/grafana/dashboards.yml.j2",
                "compose/grafana/provisioning/dashboards/nfldeploy.yml",
                views.compose,
            ),
            ("compose/grafana/dashboard.json.j2", "compose/grafana/dashboards/nfldeploy.json", views.compose),
        ],
    ),
}


def render_all(inputs: views.Inputs, out: Path, groups: list[str] | None = None) -> list[Path]:
    """Check limits for every chosen group first, then write its files under ``out``."""
    chosen = groups or list(GROUPS)
    unknown = [g for g in chosen if g not in GROUPS]
    if unknown:
        raise ConfigError(f"unknown render target(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    for group in chosen:
        check = GROUPS[group][0]
        if check is not None:
            check(inputs.settings)
    written = []
    if "github" in chosen:
        inputs, vendored = workflow_wheel(inputs, out / workflow_install.FOLDER)
        written.extend(vendored)
    for group in chosen:
        for relative, text in render_group(inputs, group).items():
            path = out / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
    return written


def workflow_wheel(inputs: views.Inputs, folder: Path) -> tuple[views.Inputs, list[Path]]:
    """The workflow's nfldeploy wheel, pinned: the ``nfldeploy_wheel`` setting, else nfldeploy's own wheel
    vendored into ``folder`` (returned as written). A wheel render can read must be covered by the locks."""
    from nfldeploy.own_wheel import project_wheel, wheel_requires

    for old in folder.glob("nfldeploy-*.whl"):
        old.unlink()  # an earlier rendering's: the workflow reads only this rendering's wheel
    setting = inputs.settings.nfldeploy_wheel
    if setting:
        wheel, file, written = workflow_install.from_setting(setting), Path(setting), []
    else:
        file = project_wheel(folder)
        wheel, written = workflow_install.vendored(file), [file]
    if not wheel.is_url:
        workflow_install.requirement_files(wheel, wheel_requires(file))  # a ConfigError when not covered
    return dataclasses.replace(inputs, wheel=wheel), written


def render_group(inputs: views.Inputs, group: str) -> dict[str, str]:
    """One group's files as text, by output path (limits not checked: render_all does that). The workflow
    comes with its jobs' hash-locked requirement files, and every action in it pinned by commit."""
    files = {
        relative: render_template(template, build_view(inputs))
        for template, relative, build_view in GROUPS[group][1]
    }
    if group == "github":
        for text in files.values():
            check_pinned(text)
        if inputs.wheel is None:
            raise ValueError("the workflow needs its nfldeploy wheel (render_all resolves it)")
        for name, text in workflow_install.requirement_files(inputs.wheel, None).items():
            files[f"{workflow_install.FOLDER}/{name}"] = text
    return files
