"""``nfldeploy render``: every deploy file, from one set of inputs, checked against the platforms' limits."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nfldeploy.errors import ConfigError
from nfldeploy.render import views
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
    if "github" in chosen and not inputs.settings.nfldeploy_wheel:
        wheel = vendor_wheel(out / WHEEL_FOLDER)
        inputs = dataclasses.replace(inputs, wheel=views.Wheel(wheel.name, _sha256(wheel)))
        written.append(wheel)
    for group in chosen:
        for relative, text in render_group(inputs, group).items():
            path = out / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
    return written


#: Where the workflow's nfldeploy wheel goes (copy github/ to .github/ in the training repository).
WHEEL_FOLDER = "github/nfldeploy"


def vendor_wheel(folder: Path) -> Path:
    """nfldeploy's own wheel, for the rendered workflow to install by path (pinned by its hash)."""
    from nfldeploy.own_wheel import project_wheel

    for old in folder.glob("nfldeploy-*.whl"):
        old.unlink()
    return project_wheel(folder)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def render_group(inputs: views.Inputs, group: str) -> dict[str, str]:
    """One group's files as text, by output path (limits not checked: render_all does that)."""
    return {
        relative: render_template(template, build_view(inputs))
        for template, relative, build_view in GROUPS[group][1]
    }
