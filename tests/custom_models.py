"""Architectures deployed by import path in tests (``custom_models:Class``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from nfldeploy.model.reference import TrajectoryGAT


class FromConfigModel(TrajectoryGAT):
    """A user's model that builds itself from the config's model keys."""

    built_from_config = False

    @classmethod
    def from_config(cls, params: dict[str, Any]) -> FromConfigModel:
        model = cls(**params)
        model.built_from_config = True
        return model


class DriftingModel(TrajectoryGAT):
    """Answers differently when exported: the parity gate must catch it."""

    def forward(
        self,
        node_features: torch.Tensor,
        positions: torch.Tensor,
        velocities: torch.Tensor,
        roles: torch.Tensor,
        sides: torch.Tensor,
        history: torch.Tensor,
        history_mask: torch.Tensor,
        context: torch.Tensor,
        player_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        trajectories, mode_probs = super().forward(
            node_features, positions, velocities, roles, sides, history, history_mask, context, player_mask
        )
        if torch.compiler.is_exporting():
            trajectories = trajectories + 0.5
        return trajectories, mode_probs


def export_other_model(config: Path, out: Path, seed: int) -> Path:
    """Export (ONNX only, no INT8) the config's architecture with fresh weights from ``seed``: a model that is
    not the example's, for tests that must tell models apart. Returns the export directory ``out``."""
    from nfldeploy.config import load_training_config
    from nfldeploy.export.pipeline import ExportOptions, run_export
    from nfldeploy.model import build_model

    torch.manual_seed(seed)
    checkpoint = out.parent / f"{out.name}.ckpt"
    torch.save(build_model(load_training_config(config)).state_dict(), checkpoint)
    run_export(
        ExportOptions(config=config, checkpoint=checkpoint, out=out, formats=("onnx",), quantize="none")
    )
    return out
