"""Model architectures and the feature pipelines.

``build_model(config, architecture, state)`` constructs a torch module. ``architecture`` is a registered
name (``nfl_graph_transformer``: the training project's model; ``reference``: nfldeploy's own) or an import
path ``package.module:Class`` of a user's own ``nn.Module``. A class with ``from_state_dict(state)`` is sized
from the checkpoint's weights (the graph model: the training project never passes heads or layers to its
model, so its config cannot be trusted for them); otherwise ``Class.from_config(params)`` when it has that
classmethod, else ``Class(**params)``, where ``params`` are the config's model keys (input_dim, hidden_dim,
num_gnn_layers, heads, future_seq_len, probabilistic, num_modes, dropout). A class names the feature contract
it follows in ``feature_contract`` (default ``reference-v1``, see ``nfldeploy.model.contracts``) and its
outputs in ``output_names`` (default trajectories, mode_probs).

This package imports torch only inside ``build_model``: the serving image uses ``features`` without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nfldeploy.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

    from nfldeploy.config import TrainingRunConfig

#: Registered architectures by name.
ARCHITECTURES = {
    "nfl_graph_transformer": "nfldeploy.model.graph_transformer:NFLGraphTransformer",
    "reference": "nfldeploy.model.reference:TrajectoryGAT",
}
DEFAULT_ARCHITECTURE = "reference"
#: A key only each registered architecture's state dict has.
_SIGNATURE_KEYS = {
    "nfl_graph_transformer": "encoder.gat_layers.0.att",
    "reference": "node_in.0.weight",
}


def detect_architecture(state: dict[str, Any], source: str = "the checkpoint") -> str:
    """The registered architecture whose parameters ``state`` holds; ConfigError naming the first keys
    otherwise."""
    for name, key in _SIGNATURE_KEYS.items():
        if key in state:
            return name
    shown = ", ".join(list(state)[:5]) + (" ..." if len(state) > 5 else "")
    raise ConfigError(
        f"{source} matches no known architecture (its first keys: {shown})",
        hint="nfldeploy knows the training project's NFLGraphTransformer (encoder.gat_layers.*) and its "
        "reference model; for your own model pass --architecture package.module:Class.",
    )


def resolve_architecture(architecture: str) -> type[Any]:
    """The class behind a registered name or a ``package.module:Class`` path."""
    path = ARCHITECTURES.get(architecture, architecture)
    module_name, sep, class_name = path.partition(":")
    if not sep or not module_name or not class_name:
        raise ConfigError(
            f"unknown architecture {architecture!r}",
            hint=f"Use one of {', '.join(ARCHITECTURES)} or an import path package.module:Class.",
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r} for architecture {architecture!r}: {exc}") from exc
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise ConfigError(f"{module_name!r} has no class {class_name!r}")
    return cls


def build_model(
    config: TrainingRunConfig | dict[str, Any],
    architecture: str = DEFAULT_ARCHITECTURE,
    state: dict[str, Any] | None = None,
) -> nn.Module:
    """A freshly initialized model for ``config`` (a loaded TrainingRunConfig or the parsed JSON dict),
    sized from ``state`` (a checkpoint's parameters) when the architecture reads its sizes from weights."""
    from torch import nn

    from nfldeploy.config import TrainingRunConfig, parse_training_config

    if not isinstance(config, TrainingRunConfig):
        config = parse_training_config(config)
    cls = resolve_architecture(architecture)
    params = config.model_params()
    try:
        if state is not None and hasattr(cls, "from_state_dict"):
            model = cls.from_state_dict(state)
        else:
            model = cls.from_config(params) if hasattr(cls, "from_config") else cls(**params)
    except TypeError as exc:
        raise ConfigError(f"cannot construct {cls.__name__} from the config's model keys: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise ConfigError(f"{cls.__name__} is not a torch.nn.Module")
    return model
