"""Model architectures and the feature pipeline.

``build_model(config, architecture="reference")`` constructs a torch module from the training config's model
keys. ``architecture`` is a registered name or an import path ``package.module:Class`` of a user's own
``nn.Module``; that class is constructed with ``Class.from_config(params)`` when it has that classmethod,
else ``Class(**params)``, where ``params`` are the model keys (input_dim, hidden_dim, num_gnn_layers, heads,
future_seq_len, probabilistic, num_modes, dropout). It must follow the forward contract of
``nfldeploy.model.reference`` (inputs ``features.INPUT_NAMES``, outputs ``features.OUTPUT_NAMES``).

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
ARCHITECTURES = {"reference": "nfldeploy.model.reference:TrajectoryGAT"}
DEFAULT_ARCHITECTURE = "reference"


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
    config: TrainingRunConfig | dict[str, Any], architecture: str = DEFAULT_ARCHITECTURE
) -> nn.Module:
    """A freshly initialized model for ``config`` (a loaded TrainingRunConfig or the parsed JSON dict)."""
    from torch import nn

    from nfldeploy.config import TrainingRunConfig, parse_training_config

    if not isinstance(config, TrainingRunConfig):
        config = parse_training_config(config)
    cls = resolve_architecture(architecture)
    params = config.model_params()
    try:
        model = cls.from_config(params) if hasattr(cls, "from_config") else cls(**params)
    except TypeError as exc:
        raise ConfigError(f"cannot construct {cls.__name__} from the config's model keys: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise ConfigError(f"{cls.__name__} is not a torch.nn.Module")
    return model
