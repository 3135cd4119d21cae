"""Finding and loading training checkpoints: Lightning ``.ckpt`` files or plain state dicts."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from nfldeploy.config import TrainingRunConfig
from nfldeploy.errors import ExportError

LIGHTNING_PREFIX = "model."


def sha256_file(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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


def load_state_dict(path: Path) -> dict[str, Any]:
    """The model's parameters from a Lightning checkpoint (``model.`` prefix stripped) or a state dict."""
    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a corrupt or foreign file
        raise ExportError(
            f"cannot load checkpoint {path}: {str(exc).splitlines()[0][:300]}",
            hint="Is it a PyTorch checkpoint (.ckpt / .pt), and was it copied completely?",
        ) from exc
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not data or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ExportError(f"{path} holds no state dict (expected tensors by parameter name)")
    if all(key.startswith(LIGHTNING_PREFIX) for key in data):
        data = {key[len(LIGHTNING_PREFIX) :]: value for key, value in data.items()}
    return data


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
            f"checkpoint {path} does not fit the config's model: " + "; ".join(parts),
            hint="Use the config JSON written by the same training run as the checkpoint.",
        )
    model.load_state_dict(state)
