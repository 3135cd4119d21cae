"""The Cloud Run service, once: what ``render`` prints as Knative YAML (``cloudrun/service.yaml``) and what
``deploy --target cloudrun`` sends to the Admin API v2 are both made from ``service_view``. Only the traffic
differs: the rendered file routes to the latest revision (``gcloud run services replace``); deploy names
revisions, so one that never gets ready never takes traffic."""

from __future__ import annotations

import re
from typing import Any

from nfldeploy.errors import ConfigError
from nfldeploy.records.manifest import Manifest
from nfldeploy.settings import DeploySettings

SECRET_ENV = "NFLSERVE_API_KEYS"
STARTUP_PROBE = {"path": "/ready", "period_seconds": 2, "timeout_seconds": 2, "failure_threshold": 30}
LIVENESS_PROBE = {"path": "/health", "period_seconds": 15, "timeout_seconds": 3, "failure_threshold": 3}


def label_value(value: str) -> str:
    """A Kubernetes / Cloud Run label value: at most 63 of [a-z0-9_.-], starting and ending alphanumeric."""
    return re.sub(r"[^a-z0-9_.-]", "-", value.lower())[:63].strip("-_.") or "none"


def secret_reference(reference: str, project: str) -> dict[str, str]:
    """A Secret Manager reference as the settings accept it (``S``, ``S:V``, ``projects/P/secrets/S`` or
    ``projects/P/secrets/S/versions/V``): its full name, short name and version (default ``latest``)."""
    if "/versions/" in reference:
        secret, version = reference.split("/versions/", 1)
    else:
        secret, _, version = reference.partition(":")
    if not secret.startswith("projects/"):
        secret = f"projects/{project}/secrets/{secret}"
    parts = secret.split("/")
    if len(parts) != 4 or parts[2] != "secrets" or not parts[1] or not parts[3]:
        raise ConfigError(
            f"api_keys_secret {reference!r} is not a Secret Manager reference",
            hint="Use NAME, NAME:VERSION, or projects/PROJECT/secrets/NAME[/versions/VERSION].",
        )
    return {"secret": secret, "name": parts[3], "version": version or "latest"}


def lineage_labels(manifest: Manifest | None) -> dict[str, str]:
    """Labels naming the run and model an export serves (empty without an export)."""
    if manifest is None:
        return {}
    labels = {
        "nfldeploy-experiment": label_value(manifest.experiment_name),
        "nfldeploy-config": manifest.short_sha,
    }
    served = manifest.artifacts.get(manifest.serving_default)
    if served is not None:
        labels["nfldeploy-model"] = served.sha256[:12]
    return labels


#: Only Google's front end reaches a revision's container, so the header is believed from any peer: each caller
#: gets its own rate-limit bucket (without this every request came from the front end's address, one bucket
#: for all). Trusting every address makes the server take the entry Google wrote, never one the client sent
#: (serving.clients): the rightmost for run.app, which writes the caller's address (replacing the header, or
#: appending to it); behind a Google external Application Load Balancer, which appends
#: ``<client-ip>,<load-balancer-ip>`` (https://cloud.google.com/load-balancing/docs/https#x-forwarded-for_header),
#: the second from the right: the ``trusted_hops = 2`` setting (NFLSERVE_TRUSTED_HOPS, from service_env).
CLOUD_RUN_ENV = {"NFLSERVE_TRUSTED_PROXIES": "0.0.0.0/0,::/0"}


def service_view(
    settings: DeploySettings, image: str, project: str, manifest: Manifest | None
) -> dict[str, Any]:
    """Container, env, secret, probes, resources, scaling and labels of the service's revisions."""
    secret = None
    if settings.auth:
        if not settings.api_keys_secret:
            raise ConfigError(
                "auth is on but api_keys_secret (a Secret Manager secret) is not set",
                hint="Set api_keys_secret = NAME[:VERSION] of the secret holding the API keys.",
            )
        secret = {"env": SECRET_ENV, **secret_reference(settings.api_keys_secret, project)}
    return {
        "image": image,
        "port": settings.port,
        "env": sorted({**settings.service_env(), **CLOUD_RUN_ENV}.items()),
        "secret": secret,
        "cpu": f"{settings.cpu:g}",
        "memory": settings.memory,
        "startup_cpu_boost": True,
        "startup_probe": STARTUP_PROBE,
        "liveness_probe": LIVENESS_PROBE,
        "min_instances": settings.min_instances,
        "max_instances": settings.max_instances,
        "concurrency": settings.concurrency,
        "timeout": settings.timeout,
        "service_account": settings.service_account,
        "labels": sorted(
            {"app": settings.service_name, "managed-by": "nfldeploy", **lineage_labels(manifest)}.items()
        ),
    }


def _probe(probe: dict[str, Any], port: int) -> dict[str, Any]:
    fields = {key: value for key, value in probe.items() if key != "path"}
    return {"http_get": {"path": probe["path"], "port": port}, **fields}


def revision_template(view: dict[str, Any]) -> dict[str, Any]:
    """The Admin API v2 ``RevisionTemplate`` (as a dict) of a ``service_view``."""
    env: list[dict[str, Any]] = [{"name": name, "value": value} for name, value in view["env"]]
    if view["secret"]:
        secret = view["secret"]
        env.append(
            {
                "name": secret["env"],
                "value_source": {
                    "secret_key_ref": {"secret": secret["secret"], "version": secret["version"]}
                },
            }
        )
    container = {
        "name": "api",
        "image": view["image"],
        "ports": [{"name": "http1", "container_port": view["port"]}],
        "env": env,
        "resources": {
            "limits": {"cpu": view["cpu"], "memory": view["memory"]},
            "startup_cpu_boost": view["startup_cpu_boost"],
        },
        "startup_probe": _probe(view["startup_probe"], view["port"]),
        "liveness_probe": _probe(view["liveness_probe"], view["port"]),
    }
    template: dict[str, Any] = {
        "labels": dict(view["labels"]),
        "scaling": {"min_instance_count": view["min_instances"], "max_instance_count": view["max_instances"]},
        "timeout": f"{view['timeout']}s",
        "max_instance_request_concurrency": view["concurrency"],
        "containers": [container],
    }
    if view["service_account"]:
        template["service_account"] = view["service_account"]
    return template
