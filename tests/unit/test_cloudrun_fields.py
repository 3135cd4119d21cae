"""What nfldeploy writes into a Cloud Run service it read: its own fields, merged so that the user's survive."""

from __future__ import annotations

from typing import Any

from nfldeploy.targets.cloudrun_fields import MANAGED_LABELS, merged_labels, merged_template

OURS: dict[str, Any] = {
    "revision": "svc-abc-1234",
    "labels": {"app": "svc", "managed-by": "nfldeploy", "nfldeploy-model": "m2"},
    "scaling": {"min_instance_count": 0, "max_instance_count": 10},
    "timeout": "300s",
    "max_instance_request_concurrency": 80,
    "containers": [
        {
            "name": "api",
            "image": "reg/img@sha256:new",
            "ports": [{"name": "http1", "container_port": 8080}],
            "env": [{"name": "NFLSERVE_RATE_LIMIT_RPS", "value": "50"}],
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "startup_cpu_boost": True},
        }
    ],
}

CURRENT: dict[str, Any] = {
    "revision": "svc-00007-xyz",
    "labels": {
        "cost-center": "analytics",
        "managed-by": "nfldeploy",
        "nfldeploy-model": "m1",
        "nfldeploy-old": "x",
    },
    "annotations": {"example.com/owner": "analytics"},
    "vpc_access": {"connector": "projects/p/locations/l/connectors/c", "egress": 2},
    "volumes": [{"name": "cache", "empty_dir": {}}],
    "service_account": "runner@p.iam.gserviceaccount.com",
    "timeout": "60s",
    "containers": [
        {
            "name": "api",
            "image": "reg/img@sha256:old",
            "ports": [{"name": "http1", "container_port": 8080}],
            "env": [
                {"name": "NFLSERVE_API_KEYS", "value_source": {"secret_key_ref": {"secret": "s"}}},
                {"name": "NFLSERVE_RATE_LIMIT_RPS", "value": "10"},
                {"name": "FEATURE_FLAG", "value": "on"},
            ],
            "volume_mounts": [{"name": "cache", "mount_path": "/cache"}],
            "resources": {"limits": {"cpu": "2", "nvidia.com/gpu": "1"}, "cpu_idle": True},
        },
        {"name": "otel", "image": "otel/collector"},
    ],
}


def test_the_users_template_fields_survive_and_nfldeploys_replace_its_own() -> None:
    merged = merged_template(CURRENT, OURS)
    assert merged["vpc_access"] == CURRENT["vpc_access"] and merged["volumes"] == CURRENT["volumes"]
    assert merged["annotations"] == CURRENT["annotations"]
    assert merged["service_account"] == CURRENT["service_account"]  # nfldeploy sets none: the user's stays
    assert (merged["revision"], merged["timeout"]) == ("svc-abc-1234", "300s")
    assert merged["labels"] == {
        "cost-center": "analytics",
        "app": "svc",
        "managed-by": "nfldeploy",
        "nfldeploy-model": "m2",  # an nfldeploy-* label it no longer sets (nfldeploy-old) goes
    }
    api, sidecar = merged["containers"]
    assert sidecar == {"name": "otel", "image": "otel/collector"}
    assert (
        api["image"] == "reg/img@sha256:new"
        and api["volume_mounts"] == CURRENT["containers"][0]["volume_mounts"]
    )
    assert api["env"] == [
        {
            "name": "NFLSERVE_RATE_LIMIT_RPS",
            "value": "50",
        },  # ours; the API keys variable it no longer sets goes
        {"name": "FEATURE_FLAG", "value": "on"},
    ]
    assert api["resources"] == {
        "limits": {"cpu": "1", "nvidia.com/gpu": "1", "memory": "1Gi"},
        "cpu_idle": True,
        "startup_cpu_boost": True,
    }


def test_a_service_read_back_merges_to_itself_and_nothing_read_is_ours_alone() -> None:
    once = merged_template(CURRENT, OURS)
    assert merged_template(once, OURS) == once  # a second deploy of the same spec changes nothing more
    assert merged_template(None, OURS) == OURS and merged_template({}, OURS) == OURS


def test_the_ingress_container_is_found_by_name_then_by_its_port() -> None:
    renamed = {
        **CURRENT,
        "containers": [{"name": "sidecar"}, {"name": "web", "ports": [{"container_port": 80}]}],
    }
    merged = merged_template(renamed, OURS)
    assert (
        merged["containers"][0] == {"name": "sidecar"}
        and merged["containers"][1]["image"] == "reg/img@sha256:new"
    )
    no_containers = merged_template({"labels": {}}, OURS)
    assert no_containers["containers"] == OURS["containers"]


def test_service_labels_keep_the_users() -> None:
    assert merged_labels({"team": "trajectory"}, MANAGED_LABELS) == {
        "team": "trajectory",
        "managed-by": "nfldeploy",
    }
