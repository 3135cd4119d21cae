"""``nfldeploy report``'s data: the lineage of what serves, the export's gates, the smoke tests, the checklist,
the last bench and the golden plays with their predictions, all from records nfldeploy keeps (nothing is
measured here). A part without a record is marked missing with the reason; the page still renders.

The same dict is written as JSON beside the page; ``render/report_page.py`` draws it."""

from __future__ import annotations

from pathlib import Path

from nfldeploy import __version__
from nfldeploy.checklist import Inputs, Item
from nfldeploy.errors import ConfigError
from nfldeploy.records.build import read_build_record
from nfldeploy.records.golden import read_golden
from nfldeploy.records.manifest import Manifest, read_manifest_if_any
from nfldeploy.records.runs import read_bench, read_smoke
from nfldeploy.records.schema import now
from nfldeploy.targets.base import Status

Json = dict[str, object]


def _step(step: str, name: str | None, ident: str = "", detail: str = "", why: str = "") -> Json:
    """One link of the lineage chain; ``name`` None marks it missing (``why`` says what produces it)."""
    if name is None:
        return {"step": step, "missing": True, "why": why}
    return {"step": step, "missing": False, "name": name, "id": ident, "detail": detail}


def lineage(
    export_dir: Path, manifest: Manifest | None, status: Status | None, status_error: str | None
) -> list[Json]:
    """config -> checkpoint -> artifact -> image digest -> revision/version -> URL."""
    if manifest is None:
        gone = "no export here: nfldeploy export CONFIG"
        chain = [_step(step, None, why=gone) for step in ("config", "checkpoint", "artifact")]
    else:
        served = manifest.serving_default
        artifact = manifest.artifacts[served]
        chain = [
            _step("config", manifest.config.file, manifest.short_sha, manifest.experiment_name),
            _step("checkpoint", Path(manifest.checkpoint.source).name, manifest.checkpoint.sha256[:12]),
            _step("artifact", f"{served} ({artifact.precision})", artifact.sha256[:12], artifact.file),
        ]
    build = read_build_record(export_dir).of_kind("server")
    if build is None:
        chain.append(_step("image", None, why="not built: nfldeploy build"))
    else:
        chain.append(_step("image", build.tag, build.image_id[7:19], build.pushed_reference or "not pushed"))
    if status is None:
        why = status_error or "no target given: nfldeploy report --target T"
        chain += [_step("revision", None, why=why), _step("url", None, why=why)]
    else:
        split = ", ".join(f"{revision} {percent} %" for revision, percent in status.traffic.items())
        serving = _step("revision", status.serving, detail=f"{status.target}, traffic {split or 'none'}")
        chain.append(serving if status.serving else _step("revision", None, why="nothing serves"))
        chain.append(_step("url", status.url) if status.url else _step("url", None, why="no URL"))
    return chain


def gates(manifest: Manifest | None) -> Json | None:
    """The export's parity and accuracy gates."""
    if manifest is None:
        return None
    accuracy = manifest.accuracy
    int8 = [
        {"name": name, "kept": gate.kept, "reason": gate.reason, "ade": gate.int8.ade}
        for name, gate in (("onnx_int8", accuracy.onnx_int8), ("torchscript_int8", accuracy.torchscript_int8))
        if gate is not None
    ]
    return {
        "parity": [
            {
                "artifact": name,
                "max_abs_error": parity.max_abs_error,
                "tolerance": parity.tolerance,
                "passed": parity.passed,
            }
            for name, parity in manifest.parity.items()
        ],
        "fp32": accuracy.fp32.model_dump(),
        "int8": int8,
        "heldout_plays": manifest.heldout.plays,
    }


def golden_plays(export_dir: Path, manifest: Manifest | None) -> list[Json]:
    """The golden plays: each player's current position, history and predicted modes (most likely first)."""
    if manifest is None:
        return []
    golden = read_golden(export_dir, manifest.golden)
    plays: list[Json] = []
    for index, (request, output) in enumerate(zip(golden.requests, golden.outputs, strict=True)):
        players: list[Json] = []
        for p, player in enumerate(request.players):
            history = player.get("history")
            probs = output.mode_probs[p] if p < len(output.mode_probs) else [1.0]
            modes = output.modes[p] if p < len(output.modes) else [output.predicted_positions[p]]
            order = sorted(range(len(modes)), key=lambda m: -probs[m] if m < len(probs) else 0.0)
            players.append(
                {
                    "id": player.get("nfl_id", p),
                    "x": player.get("x"),
                    "y": player.get("y"),
                    "side": player.get("side", 2),
                    "history": [[h.get("x"), h.get("y")] for h in history if isinstance(h, dict)]
                    if isinstance(history, list)
                    else [],
                    "modes": [
                        {"probability": probs[m] if m < len(probs) else None, "path": modes[m]} for m in order
                    ],
                }
            )
        direction = (request.model_extra or {}).get("play_direction")
        plays.append({"index": index, "direction": direction, "players": players})
    return plays


def build_report(inputs: Inputs, checklist: list[Item]) -> Json:
    """Everything the page shows, as JSON-ready data."""
    export_dir, target, status, status_error = (
        inputs.export_dir,
        inputs.target,
        inputs.status,
        inputs.status_error,
    )
    manifest_error: str | None = None
    try:
        manifest = read_manifest_if_any(export_dir)
    except ConfigError as exc:  # an unreadable manifest is a missing part of the page, not a failure
        manifest, manifest_error = None, exc.message
    bench = read_bench(export_dir)
    places = dict.fromkeys(("local", "url", "image", *([target] if target else [])))
    smokes = [run for where in places if (run := read_smoke(export_dir, where)) is not None]
    return {
        "generated_at": now(),
        "nfldeploy_version": __version__,
        "export_dir": str(export_dir),
        "target": target,
        "experiment": manifest.experiment_name if manifest else None,
        "manifest_error": manifest_error,
        "lineage": lineage(export_dir, manifest, status, status_error),
        "gates": gates(manifest),
        "smoke": [run.model_dump(mode="json") for run in smokes],
        "checklist": [item.as_dict() for item in checklist],
        "bench": bench.model_dump(mode="json") if bench else None,
        "plays": golden_plays(export_dir, manifest),
    }
