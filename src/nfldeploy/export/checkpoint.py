"""Finding and loading training checkpoints: Lightning ``.ckpt`` files or plain state dicts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nfldeploy.config import TrainingRunConfig
from nfldeploy.errors import ExportError

LIGHTNING_PREFIX = "model."
COMPILED_PREFIX = "_orig_mod."


def resolve_checkpoint(config: TrainingRunConfig, explicit: Path | None) -> Path:
    """The checkpoint to export: ``explicit``, else the one in the config's checkpoint_dir.

    checkpoint_dir is looked up relative to the training project's root (the config file's ``outputs/``
    parent), the config's folder and the working directory. With several ``.ckpt`` files, one named
    ``*best*`` wins, else the newest.
    """
    if explicit is not None:
        if not explicit.is_file():
            raise ExportError(
                f"checkpoint not found: {explicit}", hint="Pass --checkpoint PATH to a .ckpt file."
            )
        return explicit
    if not config.checkpoint_dir:
        raise ExportError(
            "no --checkpoint given and the config has no checkpoint_dir", hint="Pass --checkpoint PATH."
        )
    base = config.source.parent if config.source else Path.cwd()
    candidates = [
        base.parent / config.checkpoint_dir,
        base / config.checkpoint_dir,
        Path(config.checkpoint_dir),
    ]
    for folder in candidates:
        files = sorted(folder.glob("*.ckpt")) if folder.is_dir() else []
        if files:
            best = [f for f in files if "best" in f.name]
            return best[0] if best else max(files, key=lambda f: f.stat().st_mtime)
    looked = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise ExportError(
        f"no .ckpt file found for checkpoint_dir {config.checkpoint_dir!r} (looked in {looked})",
        hint="Pass --checkpoint PATH.",
    )


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint's model parameters (prefixes stripped) and what else it says about the run."""

    state: dict[str, Any]
    hyper_parameters: dict[str, Any] | None
    dropped: tuple[str, ...]  # keys that are not the model's (e.g. social_nce_loss.*)


def _json_safe(value: Any) -> Any:
    """hyper_parameters as JSON: numbers, strings, lists and dicts as they are, anything else as text."""
    try:
        result: Any = json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return str(value)
    return result


def _strip(key: str) -> str:
    """``model.`` (Lightning's attribute) and ``_orig_mod.`` (torch.compile) prefixes removed."""
    if key.startswith(LIGHTNING_PREFIX):
        key = key[len(LIGHTNING_PREFIX) :]
    return key.removeprefix(COMPILED_PREFIX)


def read_checkpoint(path: Path) -> Checkpoint:
    """The model's parameters from a Lightning ``.ckpt`` (``state_dict`` with ``model.`` and, from compiled
    runs, ``model._orig_mod.`` prefixes; the training losses' own parameters dropped) or a bare state dict."""
    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a corrupt or foreign file
        raise _unreadable(path, exc) from exc
    hyper = None
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        raw_hyper = data.get("hyper_parameters")
        hyper = _json_safe(dict(raw_hyper)) if isinstance(raw_hyper, dict) else None
        data = data["state_dict"]
    if not isinstance(data, dict) or not data or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ExportError(f"{path} holds no state dict (expected tensors by parameter name)")
    lightning = any(key.startswith(LIGHTNING_PREFIX) for key in data)
    kept = [key for key in data if key.startswith(LIGHTNING_PREFIX) or not lightning]
    dropped = tuple(key for key in data if lightning and not key.startswith(LIGHTNING_PREFIX))
    state = {_strip(key): data[key] for key in kept}
    return Checkpoint(state, hyper, dropped)


def _unreadable(path: Path, exc: Exception) -> ExportError:
    """One line saying what is wrong with a checkpoint torch could not load (torch's own text is long, cut
    mid-word, and may advise loading with weights_only=False, which runs the file's pickled code: never)."""
    copy_again = "Copy the checkpoint again from the training run (the copy or download did not finish)."
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            zipped = handle.read(4) == b"PK\x03\x04"  # torch's own format is a zip archive
    except OSError as error:
        return ExportError(f"cannot read checkpoint {path}: {error.strerror}")
    if size == 0:
        return ExportError(f"checkpoint {path} is empty (0 bytes)", hint=copy_again)
    text = str(exc)
    weights_only = "Weights only load failed" in text
    if (zipped and not weights_only) or isinstance(exc, EOFError):
        return ExportError(
            f"checkpoint {path} is truncated or corrupt ({size} bytes): it cannot be read", hint=copy_again
        )
    if weights_only:
        return ExportError(
            f"checkpoint {path} holds Python objects besides tensors and plain values; nfldeploy never runs a "
            "checkpoint's pickled code",
            hint="Export the Lightning .ckpt the trainer wrote, or torch.save(model.state_dict(), PATH).",
        )
    return ExportError(
        f"{path} is not a PyTorch checkpoint ({type(exc).__name__} while reading it)",
        hint="Pass the training run's .ckpt (or a .pt state dict) with --checkpoint.",
    )


def load_weights(model: Any, state: dict[str, Any], path: Path) -> None:
    """Load ``state`` into ``model``; a checkpoint that does not fit the config names the first mismatches."""
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    shapes = [
        f"{key} (checkpoint {list(state[key].shape)}, config {list(value.shape)})"
        for key, value in expected.items()
        if key in state and tuple(state[key].shape) != tuple(value.shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if shapes:
            parts.append("shape mismatch: " + ", ".join(shapes[:3]) + (" ..." if len(shapes) > 3 else ""))
        if missing:
            parts.append("missing: " + ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else ""))
        if unexpected:
            parts.append("unexpected: " + ", ".join(unexpected[:3]) + (" ..." if len(unexpected) > 3 else ""))
        raise ExportError(
            f"checkpoint {path} does not fit the {type(model).__name__} model: " + "; ".join(parts),
            hint="Use the config JSON written by the same training run as the checkpoint"
            " (or name the architecture with --architecture).",
        )
    model.load_state_dict(state)
