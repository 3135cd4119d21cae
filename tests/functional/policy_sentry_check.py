"""Run by tests/functional/test_iam_gates.py with the python of the iamtools venv (policy_sentry's own
dependencies): reads an IAM policy on stdin, prints as JSON what policy_sentry's database lacks of it:
unknown actions, resources matching none of the action's ARN formats, condition keys the action does not
take (``${TagKey}``-style names match any tag)."""

from __future__ import annotations

import functools
import json
import re
import sys
from typing import Any

from policy_sentry.querying.actions import get_action_data


def _listed(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value or [])


STAR, ANY = object(), object()


def _pattern(text: str, template: bool) -> list[object]:
    """An IAM resource (``*`` any run, ``?`` one character) or a database format (``${Variable}``: one
    character or more), as tokens."""
    tokens: list[object] = []
    for part in re.split(r"(\$\{[^}]+\})", text) if template else [text]:
        if template and part.startswith("${"):
            tokens += [ANY, STAR]
            continue
        for char in part:
            tokens.append(
                STAR if char == "*" and not template else ANY if char == "?" and not template else char
            )
    return tokens


def overlaps(resource: str, database: str) -> bool:
    """Whether some ARN matches both the policy's ``resource`` and the database's format (IAM's ``*`` in
    ``log-group:NAME:*`` covers the format ``log-group:${LogGroupName}:log-stream:${LogStreamName}``)."""
    a, b = _pattern(resource.lower(), False), _pattern(database.lower(), True)

    @functools.cache
    def match(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] is STAR and (match(i + 1, j) or (j < len(b) and match(i, j + 1))):
            return True
        if j < len(b) and b[j] is STAR and (match(i, j + 1) or (i < len(a) and match(i + 1, j))):
            return True
        return (
            i < len(a)
            and j < len(b)
            and a[i] is not STAR
            and b[j] is not STAR
            and (a[i] is ANY or b[j] is ANY or a[i] == b[j])
            and match(i + 1, j + 1)
        )

    return match(0, 0)


def arn_overlaps(resource: str, database: str) -> bool:
    """``overlaps`` field by field: partition, service, region and account hold no ":" (an ARN's first five
    fields), the resource part may."""
    ours, theirs = resource.split(":", 5), database.split(":", 5)
    return len(ours) == len(theirs) == 6 and all(overlaps(a, b) for a, b in zip(ours, theirs, strict=True))


def problems(policy: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for statement in _listed(policy.get("Statement")):
        sid = statement.get("Sid", "?")
        for action in _listed(statement.get("Action")):
            service, _, name = action.partition(":")
            rows = get_action_data(service, name).get(service, []) if name else []
            rows = [row for row in rows if row["action"].lower() == action.lower()]
            if not rows:
                found.append(f"{sid}: unknown action {action}")
                continue
            formats = [row["resource_arn_format"] for row in rows if row["resource_arn_format"] != "*"]
            for resource in _listed(statement.get("Resource")):
                if resource != "*" and not any(arn_overlaps(resource, f) for f in formats):
                    found.append(f"{sid}: {resource} is no resource of {action}")
            keys = [key for row in rows for key in row["condition_keys"]]
            for operator, conditions in (statement.get("Condition") or {}).items():
                for key in conditions:
                    if not any(overlaps(key, k) for k in keys):
                        found.append(f"{sid}: {action} takes no condition key {key} ({operator})")
    return found


if __name__ == "__main__":
    print(json.dumps(problems(json.load(sys.stdin))))
