"""The training run's config JSON, read exactly as the training project writes it.

Model keys drive the architecture and are type-checked strictly; training-only keys are kept (they are
part of the lineage hash) but ignored; unknown keys are kept and reported as warnings.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from nfldeploy.errors import ConfigError
from nfldeploy.jsonfile import read_json_object
from nfldeploy.settings import DeploySettings, load_settings

__all__ = [
    "MODEL_KEYS",
    "TRAINING_KEYS",
    "DeploySettings",
    "TrainingRunConfig",
    "canonical_sha256",
    "load_settings",
    "load_training_config",
    "parse_training_config",
]

#: Keys that shape the model. The first five are required.
MODEL_KEYS = (
    "input_dim",
    "hidden_dim",
    "num_gnn_layers",
    "heads",
    "future_seq_len",
    "probabilistic",
    "num_modes",
    "dropout",
)
REQUIRED_MODEL_KEYS = MODEL_KEYS[:5]

#: Keys the training project writes that nfldeploy keeps for lineage but does not use.
TRAINING_KEYS = frozenset(
    {
        "experiment_name",
        "seed",
        "checkpoint_dir",
        "output_dir",
        "monitor_metric",
        "export_onnx",
        "export_torchscript",
        "weeks",
        "batch_size",
        "learning_rate",
        "max_epochs",
        "min_epochs",
        "optimizer",
        "weight_decay",
        "precision",
        "accelerator",
        "devices",
        "strategy",
        "num_workers",
        "scheduler",
        "lr_scheduler",
        "warmup_epochs",
        "gradient_clip_val",
        "accumulate_grad_batches",
        "patience",
        "early_stopping_patience",
        "monitor_mode",
        "save_top_k",
        "val_split",
        "test_split",
        "data_dir",
        "log_dir",
        "logger",
        "wandb_project",
        "deterministic",
        "radius",
        "history_len",
        "num_frames_input",
        "augment",
        "loss",
        "label_smoothing",
        "compile",
        "log_every_n_steps",
        "check_val_every_n_epoch",
    }
)

FEATURE_SETS = {7: "raw7", 9: "sincos9"}


def canonical_sha256(data: dict[str, Any]) -> str:
    """sha256 of the config's canonical JSON form: stable under key order and whitespace."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class TrainingRunConfig(BaseModel):
    """The training project's flat config. Extra keys are kept, never dropped."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    experiment_name: str = Field(default="experiment", min_length=1)
    input_dim: int = Field(
        description="node features per player: 9 (x, y, s, a, sin/cos of dir and o, weight) or the legacy "
        "7 (angles in raw degrees; which 7 depends on the architecture, see the README)"
    )
    hidden_dim: int = Field(gt=0, le=4096)
    num_gnn_layers: int = Field(ge=1, le=64)
    heads: int = Field(ge=1, le=64)
    future_seq_len: int = Field(ge=1, le=200, description="frames predicted, at 10 Hz")
    probabilistic: bool = False
    num_modes: int = Field(default=1, ge=1, le=64)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    seed: int | None = None
    checkpoint_dir: str | None = None
    output_dir: str | None = None

    _source: Path | None = PrivateAttr(default=None)
    _sha256: str = PrivateAttr(default="")
    _warnings: list[str] = PrivateAttr(default_factory=list)
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_consistency(self) -> TrainingRunConfig:
        if self.input_dim not in FEATURE_SETS:
            raise ValueError(
                f"input_dim must be 9 (x, y, s, a, sin/cos of dir and o, weight) or the legacy 7 (raw angles), "
                f"got {self.input_dim}"
            )
        if self.hidden_dim % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide hidden_dim ({self.hidden_dim})")
        if self.probabilistic and self.num_modes < 2:
            raise ValueError("num_modes must be at least 2 when probabilistic is true")
        return self

    @property
    def source(self) -> Path | None:
        """The file this config was read from, if any."""
        return self._source

    @property
    def sha256(self) -> str:
        """Canonical hash of the whole config (training keys included): the run's identity."""
        return self._sha256

    @property
    def warnings(self) -> list[str]:
        """Things worth telling the user that do not stop the run (unknown keys, defaults used)."""
        return list(self._warnings)

    @property
    def raw(self) -> dict[str, Any]:
        """The config exactly as read."""
        return dict(self._raw)

    @property
    def feature_set(self) -> str:
        """Name of the node-feature set this config's input_dim selects."""
        return FEATURE_SETS[self.input_dim]

    @property
    def modes(self) -> int:
        """Number of trajectories the model predicts per player (1 when deterministic)."""
        return self.num_modes if self.probabilistic else 1

    def model_params(self) -> dict[str, Any]:
        """The keys that shape the model, with defaults filled in."""
        return {key: getattr(self, key) for key in MODEL_KEYS}


def _describe(error: Any) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"missing model key '{loc}'"
    if loc:
        value = error.get("input")
        shown = (
            json.dumps(value) if isinstance(value, str | int | float | bool | None) else type(value).__name__
        )
        return f"key '{loc}': {message} (got {shown})"
    return message


def parse_training_config(data: dict[str, Any], source: Path | None = None) -> TrainingRunConfig:
    """Validate an already-parsed config dict. Errors name the key and the file."""
    where = str(source) if source else "training config"
    if not any(key in data for key in REQUIRED_MODEL_KEYS):
        raise ConfigError(
            f"{where}: no model keys found (expected {', '.join(REQUIRED_MODEL_KEYS)})",
            hint="Is this the training run's config JSON (outputs/<experiment_name>_config.json)?",
        )
    try:
        config = TrainingRunConfig.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(err) for err in exc.errors()]
        raise ConfigError(
            f"{where}: " + "; ".join(problems),
            hint="Fix the named key(s) in the config JSON; model keys must have the training project's types.",
        ) from exc
    known = set(TrainingRunConfig.model_fields) | TRAINING_KEYS
    warnings = [
        f"unknown key '{key}' kept for lineage but not used" for key in sorted(data) if key not in known
    ]
    warnings += [
        f"model key '{key}' not set; using the default {getattr(config, key)!r}"
        for key in MODEL_KEYS[5:]
        if key not in data
    ]
    config._source = source
    config._sha256 = canonical_sha256(data)
    config._warnings = warnings
    config._raw = dict(data)
    return config


def load_training_config(path: str | Path) -> TrainingRunConfig:
    """Read and validate the training config JSON at ``path``."""
    source = Path(path)
    return parse_training_config(read_json_object(source, "training config"), source)
