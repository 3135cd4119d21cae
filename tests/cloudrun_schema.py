"""A JSON schema of the Cloud Run v1 (Knative) Service, derived from the Admin API's discovery document that
google-api-python-client ships (offline). Objects reject unknown fields, so a misspelt key fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _convert(node: Any) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return {"$ref": f"#/definitions/{node['$ref']}"}
        out = {
            k: _convert(v)
            for k, v in node.items()
            if k not in ("id", "description", "enumDescriptions", "readOnly")
        }
        if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        if out.get("format") in ("int32", "int64") and out.get("type") == "string":
            out["type"] = ["string", "integer"]  # the API encodes 64-bit integers as strings
        return out
    if isinstance(node, list):
        return [_convert(item) for item in node]
    return node


def service_schema() -> dict[str, Any]:
    import googleapiclient

    document = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "run.v1.json"
    schemas = json.loads(document.read_text())["schemas"]
    return {
        "$ref": "#/definitions/Service",
        "definitions": {name: _convert(s) for name, s in schemas.items()},
    }
