"""The golden set: a few held-out plays as API request bodies and the eager model's answers for them
(golden/requests.json, golden/outputs.json). Smoke tests and bench send the requests; the answers are what
a deployed artifact must reproduce within the manifest's per-artifact tolerance."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field, RootModel

from nfldeploy.errors import ConfigError
from nfldeploy.jsonfile import read_json_value
from nfldeploy.records.manifest import GoldenFiles
from nfldeploy.records.schema import Record, parse

REQUESTS = "golden/requests.json"
OUTPUTS = "golden/outputs.json"


class GoldenOutput(Record):
    """The eager model's answer for one golden play, in field coordinates."""

    predicted_positions: list[list[list[float]]]  # player, frame, (x, y) of the most likely mode
    modes: list[list[list[list[float]]]] = Field(default_factory=list)  # player, mode, frame, (x, y)
    mode_probs: list[list[float]] = Field(default_factory=list)
    uncertainty: list[list[list[list[float]]]] | None = None
    zone_coverage_probability: float | None = None


class GoldenRequest(Record):
    """One golden play as the /predict body (the keys besides ``players`` are kept as they are)."""

    players: list[dict[str, object]]

    def body(self) -> dict[str, object]:
        """The JSON body to send."""
        return self.model_dump(mode="json")


class _Requests(RootModel[list[GoldenRequest]]):
    pass


class _Outputs(RootModel[list[GoldenOutput]]):
    pass


class GoldenSet(Record):
    """Request bodies and the answers expected for them, in the same order."""

    requests: list[GoldenRequest]
    outputs: list[GoldenOutput]

    @property
    def bodies(self) -> list[dict[str, object]]:
        """The request bodies to send."""
        return [request.body() for request in self.requests]


def read_golden(export_dir: Path, files: GoldenFiles) -> GoldenSet:
    """The golden set the manifest names, checked: both files parse and hold one answer per request."""
    requests_path, outputs_path = export_dir / files.requests, export_dir / files.outputs
    requests = parse(
        _Requests, read_json_value(requests_path, "golden requests"), requests_path, "golden requests"
    )
    outputs = parse(_Outputs, read_json_value(outputs_path, "golden outputs"), outputs_path, "golden outputs")
    if len(requests.root) != len(outputs.root) or not requests.root:
        raise ConfigError(
            f"{export_dir}: the golden set has {len(requests.root)} requests and {len(outputs.root)} answers",
            hint="Export again: the golden files belong together.",
        )
    return GoldenSet(requests=requests.root, outputs=outputs.root)


def write_golden(
    folder: Path,
    requests: list[dict[str, object]],
    outputs: list[dict[str, object]],
    tolerance: dict[str, float],
) -> GoldenFiles:
    """Write the golden set into an export directory; returns the manifest's entry for it."""
    (folder / "golden").mkdir(exist_ok=True)
    (folder / REQUESTS).write_text(json.dumps(requests, indent=1) + "\n")
    (folder / OUTPUTS).write_text(json.dumps(outputs) + "\n")
    return GoldenFiles(requests=REQUESTS, outputs=OUTPUTS, tolerance=tolerance)
