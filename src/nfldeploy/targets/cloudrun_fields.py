"""What nfldeploy owns on a Cloud Run service, and how an update keeps everything else.

An UpdateService replaces each field it names whole: without an ``update_mask`` the API takes every populated
field as named (https://google.aip.dev/134: "an implied field mask equivalent to all fields that are
populated"), and a map such as ``labels`` is one field. So nfldeploy reads the service, puts its own values
into what it read and writes the four fields it changes (``template``, ``traffic``, ``labels``,
``annotations``) back whole, merged: the user's labels, annotations, template labels, other containers, env
vars of their own and every template field nfldeploy does not set (VPC access, volumes, execution
environment, ...) survive a deploy, a promote and a rollback.

nfldeploy owns: in the template, the fields ``revision_template`` sets and the ingress container's image,
ports, probes, resources and every ``NFLSERVE_*`` env var (the server's namespace: one nfldeploy no longer
sets is removed, e.g. the API keys once auth is off); template labels it sets and any ``nfldeploy-*`` label;
the service label ``managed-by``; the traffic; the annotation naming the previous revision.
"""

from __future__ import annotations

from typing import Any

#: The service's own label (the rest of the service's labels are the user's).
MANAGED_LABELS = {"managed-by": "nfldeploy"}
OWNED_ENV_PREFIX = "NFLSERVE_"
OWNED_LABEL_PREFIX = "nfldeploy-"


def pruned(value: Any) -> Any:
    """``value`` without its empty fields, at every depth: a template as read (every field, defaults
    included) and as nfldeploy writes it (only what it sets) compare equal when they mean the same."""
    if isinstance(value, dict):
        kept = {key: pruned(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in (None, "", 0, False, [], {})}
    if isinstance(value, list):
        return [pruned(item) for item in value]
    return value


def merged_labels(current: dict[str, str], ours: dict[str, str]) -> dict[str, str]:
    """The user's labels (those nfldeploy never owned) with nfldeploy's on top."""
    kept = {k: v for k, v in current.items() if not k.startswith(OWNED_LABEL_PREFIX)}
    return {**kept, **ours}


def _ingress_index(containers: list[dict[str, Any]], name: str) -> int | None:
    """Which of the current containers is nfldeploy's: the one of its name, else the one serving a port."""
    for index, container in enumerate(containers):
        if container.get("name") == name:
            return index
    for index, container in enumerate(containers):
        if container.get("ports"):
            return index
    return 0 if containers else None


def _merged_container(current: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    own_names = {var["name"] for var in ours.get("env", [])}
    user_env = [
        var
        for var in current.get("env") or []
        if not var.get("name", "").startswith(OWNED_ENV_PREFIX) and var.get("name") not in own_names
    ]
    resources = current.get("resources") or {}
    ours_resources = ours.get("resources") or {}
    return {
        **current,
        **{key: value for key, value in ours.items() if key not in ("env", "resources")},
        "env": [*ours.get("env", []), *user_env],
        "resources": {
            **resources,
            **ours_resources,
            "limits": {**(resources.get("limits") or {}), **(ours_resources.get("limits") or {})},
        },
    }


def merged_template(current: dict[str, Any] | None, ours: dict[str, Any]) -> dict[str, Any]:
    """``ours`` (a ``revision_template``) put into the ``current`` template as read: see the module docstring.
    Both are dicts with the API's snake_case field names."""
    if not current:
        return ours
    template = {
        **current,
        **{key: value for key, value in ours.items() if key not in ("labels", "containers")},
        "labels": merged_labels(current.get("labels") or {}, ours.get("labels") or {}),
    }
    mine = ours["containers"][0]
    containers = [dict(c) for c in current.get("containers") or []]
    index = _ingress_index(containers, mine.get("name", ""))
    if index is None:
        containers = [mine]
    else:
        containers[index] = _merged_container(containers[index], mine)
    template["containers"] = containers
    return template
