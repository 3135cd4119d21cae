"""View models of the deploy files: every value the templates print, computed here from the settings, the
export manifest and the image reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nfldeploy import __version__
from nfldeploy.cloud import lambda_deployer
from nfldeploy.records.manifest import Manifest
from nfldeploy.render.cloudrun_spec import label_value, service_view
from nfldeploy.settings import DeploySettings


@dataclass(frozen=True)
class Wheel:
    """nfldeploy's wheel rendered beside the workflow (when no nfldeploy_wheel is set)."""

    name: str
    sha256: str


@dataclass(frozen=True)
class Inputs:
    """What a rendering is made from."""

    settings: DeploySettings
    manifest: Manifest
    image: str
    lambda_image: str
    replicas: int = 2  # API replicas behind nginx in the compose stack
    wheel: Wheel | None = None  # the vendored wheel (render_all puts it there)


def common(inputs: Inputs) -> dict[str, Any]:
    """Values every file shares."""
    s, m = inputs.settings, inputs.manifest
    config_sha = m.config.sha256
    labels = {
        "app.kubernetes.io/name": s.service_name,
        "nfldeploy-experiment": label_value(m.experiment_name),
        "nfldeploy-config": config_sha[:12],
    }
    env = list(s.service_env().items())
    return {
        "nfldeploy_version": __version__,
        "service_name": s.service_name,
        "experiment_name": m.experiment_name,
        "config_sha256": config_sha,
        "config_short": config_sha[:12],
        "image": inputs.image,
        "lambda_image": inputs.lambda_image,
        "port": s.port,
        "cpu": f"{s.cpu:g}",
        "memory": s.memory,
        "memory_mib": s.memory_mib,
        "min_instances": s.min_instances,
        "max_instances": s.max_instances,
        "concurrency": s.concurrency,
        "timeout": s.timeout,
        "region": s.region,
        "aws_region": s.aws_region,
        "project": s.project or "PROJECT_ID",
        "registry": s.registry or "REGISTRY",
        "repository": s.repository,
        "labels": sorted(labels.items()),
        "env": env,
        "auth": s.auth,
        "api_keys_secret": s.api_keys_secret,
    }


def cloudrun(inputs: Inputs) -> dict[str, Any]:
    """Cloud Run's Knative service: the same ``service_view`` deploy sends to the Admin API."""
    view = common(inputs)
    view["service"] = service_view(inputs.settings, inputs.image, view["project"], inputs.manifest)
    return view


def kubernetes(inputs: Inputs) -> dict[str, Any]:
    """Deployment, Service and HorizontalPodAutoscaler."""
    view = common(inputs)
    view["replicas"] = max(inputs.settings.min_instances, 1)
    view["max_replicas"] = max(inputs.settings.max_instances, view["replicas"])
    view["cpu_request"] = f"{inputs.settings.cpu:g}"
    view["cpu_target_percent"] = 70
    view["secret_name"] = f"{inputs.settings.service_name}-api-keys" if inputs.settings.auth else ""
    return view


def sam(inputs: Inputs) -> dict[str, Any]:
    """The SAM template of the Lambda variant."""
    view = common(inputs)
    view["function_url_auth"] = inputs.settings.function_url_auth
    view["lambda_architecture"] = inputs.settings.lambda_architecture
    view["api_gateway"] = inputs.settings.lambda_endpoint == "api_gateway"
    view["throttle_rate"] = f"{inputs.settings.rate_limit_rps:g}"
    view["throttle_burst"] = inputs.settings.rate_limit_burst
    view["secret_arn"] = inputs.settings.api_keys_secret or ""
    view["secret_resources"] = (
        lambda_deployer.secret_resources(view["secret_arn"]) if view["secret_arn"] else []
    )
    return view


def aws_account(settings: DeploySettings) -> str:
    """The account the Lambda policies name: ``aws_account_id``, else a placeholder that names none."""
    return settings.aws_account_id or lambda_deployer.ACCOUNT_PLACEHOLDER


def deployer_policy(inputs: Inputs) -> dict[str, Any]:
    """The IAM policy of the identity that deploys the Lambda variant (after nfldeploy bootstrap)."""
    s = inputs.settings
    return {
        **common(inputs),
        "policy": lambda_deployer.deployer_policy(
            s.aws_region,
            s.service_name,
            s.repository,
            s.lambda_endpoint == "api_gateway",
            account=aws_account(s),
            url_auth=s.function_url_auth,
            auth=s.auth,
        ),
    }


def execution_role_policy(inputs: Inputs) -> dict[str, Any]:
    """The inline policy of the Lambda function's execution role, as nfldeploy bootstrap writes it (a partial
    secret ARN as ``name-??????``; bootstrap completes it to the full ARN)."""
    s = inputs.settings
    secret = s.api_keys_secret if s.auth else None
    return {
        **common(inputs),
        "policy": lambda_deployer.execution_role_policy(
            s.aws_region, s.service_name, secret, account=aws_account(s)
        ),
    }


def compose(inputs: Inputs, upstream_hosts: list[str] | None = None) -> dict[str, Any]:
    """docker-compose with N API replicas behind nginx, Prometheus and Grafana."""
    view = common(inputs)
    names = [f"api-{i + 1}" for i in range(inputs.replicas)]
    view["api_services"] = names
    port = inputs.settings.port
    view["upstreams"] = upstream_hosts or [f"{name}:{port}" for name in names]
    view["scrape_targets"] = [f"{name}:{port}" for name in names]
    view["nginx_port"] = 8080
    # only nginx reaches the replicas (they publish no port): its X-Forwarded-For names the client
    view["env"] = [*view["env"], ("NFLSERVE_TRUSTED_PROXIES", "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16")]
    return view


#: The CPU build of torch for the export job: the default index's Linux wheel pulls CUDA (gigabytes).
TORCH_CPU = ("torch==2.13.0+cpu", "https://download.pytorch.org/whl/cpu")
#: Where the test job puts nfldeploy's wheel, and the artifact that carries it to the later jobs.
WHEEL_DIR = "nfldeploy-wheel"


def workflow(inputs: Inputs) -> dict[str, Any]:
    """The GitHub Actions pipeline."""
    view = common(inputs)
    s = inputs.settings
    view["config_path"] = s.training_config or f"outputs/{inputs.manifest.experiment_name}_config.json"
    view["canary_percent"] = 10
    view["default_target"] = "cloudrun"
    view["smoke_p95_budget_ms"] = f"{s.smoke_p95_budget_ms:g}"
    view.update(_wheel_steps(s.nfldeploy_wheel, inputs.wheel))
    view["torch_requirement"], view["torch_index"] = TORCH_CPU
    return view


def _wheel_steps(setting: str | None, vendored: Wheel | None) -> dict[str, str]:
    """How the test job takes nfldeploy's wheel: the setting's path or URL, else the vendored copy (its
    hash pinned here); and the path every job installs it from."""
    if setting:
        name = setting.rstrip("/").rsplit("/", 1)[-1]
        url = "://" in setting
        fetch = (
            f'curl -fsSL --proto "=https" -o "{WHEEL_DIR}/{name}" "{setting}"'
            if url
            else f'cp "{setting}" {WHEEL_DIR}/'
        )
        source, pinned = setting, ""
    elif vendored is not None:
        name, source, pinned = vendored.name, f".github/nfldeploy/{vendored.name}", vendored.sha256
        fetch = f'cp "{source}" {WHEEL_DIR}/'
    else:
        raise ValueError("the workflow needs nfldeploy_wheel or a vendored wheel")
    return {
        "wheel_source": source,
        "wheel_fetch": fetch,
        "wheel_pinned": f"{pinned}  {WHEEL_DIR}/{name}" if pinned else "",
        "wheel_dir": WHEEL_DIR,
        "wheel_path": f"{WHEEL_DIR}/{name}",
    }
