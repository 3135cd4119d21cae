"""View models of the deploy files: every value the templates print, computed here from the settings, the
export manifest and the image reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nfldeploy import __version__
from nfldeploy.cloud import lambda_deployer
from nfldeploy.records.manifest import Manifest
from nfldeploy.render.actions import pinned_actions
from nfldeploy.render.cloudrun_spec import label_value, service_view
from nfldeploy.render.workflow_install import IN_REPOSITORY, JOB_LOCKS, WHEEL_DIR, Wheel
from nfldeploy.settings import DeploySettings


@dataclass(frozen=True)
class Inputs:
    """What a rendering is made from."""

    settings: DeploySettings
    manifest: Manifest
    image: str
    lambda_image: str
    replicas: int = 2  # API replicas behind nginx in the compose stack
    wheel: Wheel | None = None  # the workflow's nfldeploy wheel, pinned (render_all resolves it)


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
    # "In Cloud Run, it must be project ID or number" (ObjectMeta.namespace,
    # https://cloud.google.com/run/docs/reference/rest/v1/ObjectMeta); with no project setting, none is written.
    view["namespace"] = inputs.settings.project or ""
    return view


def kubernetes(inputs: Inputs) -> dict[str, Any]:
    """Deployment, Service, HorizontalPodAutoscaler and NetworkPolicy."""
    view = common(inputs)
    view["replicas"] = max(inputs.settings.min_instances, 1)
    view["max_replicas"] = max(inputs.settings.max_instances, view["replicas"])
    view["cpu_request"] = f"{inputs.settings.cpu:g}"
    view["cpu_target_percent"] = 70
    view["secret_name"] = f"{inputs.settings.service_name}-api-keys" if inputs.settings.auth else ""
    # A digest names one image: a node's copy is that image. A tag may name a newer build (the same config
    # rebuilt): pull it on every start. https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy
    view["image_by_digest"] = "@sha256:" in inputs.image
    view["pull_policy"] = "IfNotPresent" if view["image_by_digest"] else "Always"
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


def deployer_trust_policy(inputs: Inputs) -> dict[str, Any]:
    """The trust policy of the deploy role: the release job of ``github_repository``'s workflow, by OIDC."""
    s = inputs.settings
    return {
        **common(inputs),
        "policy": lambda_deployer.deployer_trust_policy(
            s.aws_region,
            account=aws_account(s),
            repository=s.github_repository or lambda_deployer.REPOSITORY_PLACEHOLDER,
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
    view["memory_limit"] = f"{inputs.settings.memory_mib}m"  # the replicas' memory, as on Kubernetes
    # only nginx reaches the replicas (they publish no port): its X-Forwarded-For names the client
    view["env"] = [*view["env"], ("NFLSERVE_TRUSTED_PROXIES", "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16")]
    return view


#: The PyTorch CPU index: the export lock's torch is its CPU build (the default index's Linux torch pulls CUDA).
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"


def workflow(inputs: Inputs) -> dict[str, Any]:
    """The GitHub Actions pipeline: actions by commit SHA, installs from the hash-locked requirement files
    render writes beside it."""
    if inputs.wheel is None:
        raise ValueError("the workflow needs its nfldeploy wheel (render_all resolves it)")
    view = common(inputs)
    s, wheel = inputs.settings, inputs.wheel
    view["config_path"] = s.training_config or f"outputs/{inputs.manifest.experiment_name}_config.json"
    view["canary_percent"] = 10
    view["default_target"] = "cloudrun"
    # the release job's GitHub environment: its OIDC token's sub is repo:<owner>/<repo>:environment:<name>,
    # which the deploy role's trust must name (https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#filtering-for-a-specific-environment)
    view["release_environment"] = lambda_deployer.RELEASE_ENVIRONMENT
    view["smoke_p95_budget_ms"] = f"{s.smoke_p95_budget_ms:g}"
    view["actions"] = pinned_actions()
    view["wheel_source"] = wheel.source
    view["wheel_fetch"] = (
        f'curl -fsSL --proto "=https" -o "{wheel.path}" "{wheel.source}"'
        if wheel.is_url
        else f'cp "{wheel.source}" {WHEEL_DIR}/'
    )
    view["wheel_pinned"] = f"{wheel.sha256}  {wheel.path}"
    view["wheel_dir"] = WHEEL_DIR
    view["wheel_path"] = wheel.path
    export, release = JOB_LOCKS
    view["export_requirements"] = f"{IN_REPOSITORY}/{export}"
    view["release_requirements"] = f"{IN_REPOSITORY}/{release}"
    view["torch_index"] = TORCH_INDEX
    return view
