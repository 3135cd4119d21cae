"""What the Cloud Run Admin API v2's UpdateService (projects.locations.services.patch) does to a stored
service, for the fake (tests/fake_cloudrun.py), from the API's own discovery document (run.v2.json, shipped by
google-api-python-client) and Google's API design rules:

- ``updateMask`` "The list of fields to be updated" (https://cloud.google.com/run/docs/reference/rest/v2/
  projects.locations.services/patch). Each path names a field of the Service, ``.`` traversing messages
  (https://google.aip.dev/161 "Specifying specific fields"); a map's key may be named (``labels.team``, AIP-161
  "Map fields"); a repeated field only in the last position (google.protobuf.FieldMask: "A repeated field is
  not allowed except at the last position of a paths string"); a path to a field that cannot exist is
  INVALID_ARGUMENT (AIP-161 "Invalid field mask entries"). A named field takes the request's value whole, and
  a named field the request leaves empty is cleared (FieldMask: "In order to reset a field's value to the
  default, the field must be in the mask and set to the default value in the provided resource").
- No mask: "an implied field mask equivalent to all fields that are populated (have a non-empty value)"
  (https://google.aip.dev/134), so every populated top-level field, a map such as ``labels`` included, is
  replaced whole; an unpopulated one is kept.
- ``*``: "full replacement (the equivalent of PUT)" (AIP-134).
- Output-only fields (``readOnly`` in the discovery document) are ignored as input, even when a mask names
  them (AIP-161 "Output only fields": the service "should ignore"). ``name`` identifies the service and
  ``etag`` is no field being updated (AIP-134 "Etags"): neither is written.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

SERVICE_SCHEMA = "GoogleCloudRunV2Service"
NOT_WRITTEN = frozenset({"name", "etag"})


class MaskError(ValueError):
    """A mask path that names no field of the Service (the API's INVALID_ARGUMENT)."""


@cache
def schemas() -> dict[str, Any]:
    """The discovery document's schemas of the Cloud Run Admin API v2."""
    import googleapiclient

    document = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "run.v2.json"
    result: dict[str, Any] = json.loads(document.read_text())["schemas"]
    return result


def output_only() -> frozenset[str]:
    """The Service's output-only fields."""
    props = schemas()[SERVICE_SCHEMA]["properties"]
    return frozenset(name for name, spec in props.items() if spec.get("readOnly"))


def _camel(segment: str) -> str:
    """A path segment in the JSON (lowerCamelCase) spelling; ``max_instance_count`` -> ``maxInstanceCount``."""
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), segment)


def parse_mask(text: str) -> list[list[str]]:
    """``updateMask`` ("a,b.c", snake_case or camelCase) -> checked paths of camelCase segments (a map key
    kept as written); MaskError for a path that cannot exist."""
    paths = []
    for raw in (p.strip() for p in text.split(",")):
        if not raw:
            continue
        if raw == "*":
            paths.append(["*"])
            continue
        paths.append(_checked(raw))
    return paths


def _checked(raw: str) -> list[str]:
    segments = raw.split(".")
    spec: dict[str, Any] = {"$ref": SERVICE_SCHEMA}
    out: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if spec.get("type") == "object" and "additionalProperties" in spec:  # a map: the segment is a key
            if not last:
                raise MaskError(f"Invalid field mask path {raw!r}: a map key must be its last segment")
            out.append(segment)
            break
        if spec.get("type") == "array":
            raise MaskError(f"Invalid field mask path {raw!r}: a repeated field must be its last segment")
        if "$ref" not in spec:
            raise MaskError(f"Invalid field mask path {raw!r}: {out[-1]!r} has no fields")
        props = schemas()[spec["$ref"]].get("properties", {})
        name = _camel(segment)
        if name not in props:
            raise MaskError(f"Invalid field mask path {raw!r}: no field {segment!r} in {spec['$ref']}")
        out.append(name)
        spec = props[name]
    return out


def _populated(value: Any) -> bool:
    return value not in (None, "", 0, False, [], {})


def _put(target: dict[str, Any], path: list[str], source: dict[str, Any]) -> None:
    """``target`` at ``path`` takes ``source``'s value there, whole (cleared when ``source`` has none)."""
    value: Any = source
    for segment in path:
        value = value.get(segment) if isinstance(value, dict) else None
    node = target
    for segment in path[:-1]:
        node = node.setdefault(segment, {})
    if _populated(value):
        node[path[-1]] = copy.deepcopy(value)
    else:
        node.pop(path[-1], None)


def apply_update(current: dict[str, Any], body: dict[str, Any], mask: str | None) -> dict[str, Any]:
    """The stored service after an UpdateService of ``body`` with ``mask`` (None: no mask sent)."""
    readonly = output_only()
    paths = [[key] for key, value in body.items() if _populated(value)] if mask is None else parse_mask(mask)
    if ["*"] in paths:
        writable = set(schemas()[SERVICE_SCHEMA]["properties"]) - readonly - NOT_WRITTEN
        paths = [[name] for name in sorted(writable)]
    updated = copy.deepcopy(current)
    for path in paths:
        if path[0] in readonly or path[0] in NOT_WRITTEN:
            continue
        _put(updated, path, body)
    return updated


def written(body: dict[str, Any], mask: str | None) -> set[str]:
    """The top-level fields an update writes (to know whether it touches the template or the traffic)."""
    if mask is None:
        return {key for key, value in body.items() if _populated(value)}
    paths = parse_mask(mask)
    if ["*"] in paths:
        return set(schemas()[SERVICE_SCHEMA]["properties"])
    return {path[0] for path in paths}
