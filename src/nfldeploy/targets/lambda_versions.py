"""Which published versions of a Lambda function a deploy keeps: pure functions of the listed versions and
aliases (the target lists them, every page; it deletes what these return)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def numbered(versions: Iterable[Mapping[str, Any]]) -> list[int]:
    """The published version numbers, ascending ($LATEST is no published version)."""
    return sorted(int(v["Version"]) for v in versions if str(v["Version"]).isdigit())


def referenced(aliases: Iterable[Mapping[str, Any]], skip: Iterable[str] = ()) -> set[str]:
    """The versions the aliases (but those named in ``skip``) point at or route a weight to: Lambda refuses
    to delete those ("You can't delete a version that an alias references",
    https://docs.aws.amazon.com/lambda/latest/api/API_DeleteFunction.html)."""
    skipped = set(skip)
    found: set[str] = set()
    for alias in aliases:
        if alias.get("Name") in skipped:
            continue
        found.add(str(alias["FunctionVersion"]))
        routing = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        found.update(str(version) for version in routing)
    return found


def retired(
    versions: Iterable[int], keep: int, protected: Iterable[str], publishing: bool
) -> tuple[str, ...]:
    """The versions to delete: all but the newest ``keep`` (counting the one about to be published when
    ``publishing``) and the ``protected`` ones (serving, previous, referenced by an alias), oldest first."""
    ordered = sorted(versions)
    newest = keep - 1 if publishing else keep
    kept = set(ordered[-newest:]) if newest > 0 else set()  # all of them when there are fewer
    guarded = set(protected)
    return tuple(str(v) for v in ordered if v not in kept and str(v) not in guarded)


def spans(versions: Iterable[str]) -> str:
    """``1-4, 7, 9-12``: the versions as runs, for a plan's line."""
    runs: list[list[int]] = []
    for version in sorted(int(v) for v in versions):
        if runs and version == runs[-1][-1] + 1:
            runs[-1].append(version)
        else:
            runs.append([version])
    return ", ".join(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)
