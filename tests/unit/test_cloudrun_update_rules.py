"""The Cloud Run fake's UpdateService rules (tests/cloudrun_update.py), each as its page states it: a mask's
named fields replaced whole or cleared, a map key in a mask, the implied mask without one (every populated
field, maps replaced whole), ``*``, bad paths refused, output-only fields ignored."""

from __future__ import annotations

from typing import Any

import pytest

from cloudrun_update import MaskError, apply_update, output_only, parse_mask, written

CURRENT: dict[str, Any] = {
    "name": "projects/p/locations/l/services/s",
    "uid": "u-1",
    "etag": '"v1"',
    "uri": "https://s.run.app",
    "description": "the user's",
    "ingress": "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
    "labels": {"team": "trajectory", "managed-by": "nfldeploy"},
    "annotations": {"example.com/ticket": "NFL-42"},
    "template": {
        "revision": "s-1",
        "vpcAccess": {"connector": "c", "egress": "ALL_TRAFFIC"},
        "containers": [{"image": "a", "env": [{"name": "FLAG", "value": "on"}]}],
    },
}


def test_a_masked_field_is_replaced_whole_and_unnamed_ones_are_kept() -> None:
    body = {"labels": {"managed-by": "nfldeploy"}, "description": "ignored: not in the mask"}
    updated = apply_update(CURRENT, body, "labels")
    assert updated["labels"] == {"managed-by": "nfldeploy"}  # a map is one field: the user's label is gone
    assert updated["description"] == "the user's" and updated["template"] == CURRENT["template"]


def test_a_masked_field_the_request_leaves_empty_is_cleared() -> None:
    updated = apply_update(CURRENT, {}, "annotations,description")
    assert "annotations" not in updated and "description" not in updated


def test_a_map_key_or_a_nested_field_in_the_mask_changes_only_that() -> None:
    updated = apply_update(CURRENT, {"labels": {"env": "prod"}}, "labels.env")
    assert updated["labels"] == {"team": "trajectory", "managed-by": "nfldeploy", "env": "prod"}
    body = {"template": {"vpcAccess": {"egress": "PRIVATE_RANGES_ONLY"}}}
    nested = apply_update(CURRENT, body, "template.vpc_access.egress")  # snake_case as the proto names it
    assert nested["template"]["vpcAccess"] == {"connector": "c", "egress": "PRIVATE_RANGES_ONLY"}
    assert nested["template"]["containers"] == CURRENT["template"]["containers"]


def test_without_a_mask_every_populated_field_is_replaced_whole() -> None:
    """AIP-134's implied mask: what nfldeploy sent before (its template, traffic and own labels) wiped the
    user's labels and their container env, and kept what it did not send."""
    body = {
        "labels": {"managed-by": "nfldeploy"},
        "template": {"revision": "s-2", "containers": [{"image": "b"}]},
        "description": "",  # not populated: kept
    }
    updated = apply_update(CURRENT, body, None)
    assert updated["labels"] == {"managed-by": "nfldeploy"}
    assert updated["template"] == {"revision": "s-2", "containers": [{"image": "b"}]}  # vpcAccess gone too
    assert updated["annotations"] == CURRENT["annotations"] and updated["description"] == "the user's"
    assert written(body, None) == {"labels", "template"}


def test_star_replaces_every_writable_field() -> None:
    updated = apply_update(CURRENT, {"template": {"containers": [{"image": "c"}]}}, "*")
    assert updated["template"] == {"containers": [{"image": "c"}]}
    assert "labels" not in updated and "ingress" not in updated and "description" not in updated
    assert updated["uri"] == CURRENT["uri"] and updated["name"] == CURRENT["name"]  # output-only, identifier


def test_output_only_fields_name_and_etag_are_never_written() -> None:
    assert {"uri", "uid", "trafficStatuses", "latestReadyRevision"} <= output_only()
    body = {"uri": "https://evil", "uid": "x", "name": "other", "etag": '"v9"'}
    updated = apply_update(CURRENT, body, "uri,uid,name,etag")
    assert (updated["uri"], updated["uid"], updated["name"], updated["etag"]) == (
        CURRENT["uri"],
        "u-1",
        CURRENT["name"],
        '"v1"',
    )
    assert apply_update(CURRENT, body, None) == CURRENT


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        ("labelz", "no field 'labelz'"),
        ("template.containers.image", "a repeated field must be its last segment"),
        ("labels.team.x", "a map key must be its last segment"),
        ("description.x", "'description' has no fields"),
        ("template.nope", "no field 'nope' in GoogleCloudRunV2RevisionTemplate"),
    ],
)
def test_a_path_to_a_field_that_cannot_exist_is_invalid(mask: str, message: str) -> None:
    with pytest.raises(MaskError, match=message):
        parse_mask(mask)
