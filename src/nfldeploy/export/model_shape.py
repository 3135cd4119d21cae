"""What an export needs to know about the model it loaded: contract, feature set, sizes and outputs, taken
from the weights where the architecture reads them from there, and how the config disagrees."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nfldeploy.config import TrainingRunConfig
from nfldeploy.errors import ExportError
from nfldeploy.model.contracts import DEFAULT_OUTPUTS, REFERENCE, Contract, Shape, get_contract
from nfldeploy.model.modes import MODE_RANKS

#: Config keys compared with the weights' sizes: (config key, spec attribute).
_COMPARED = (
    ("hidden_dim", "hidden_dim"),
    ("heads", "heads"),
    ("num_gnn_layers", "num_gnn_layers"),
    ("future_seq_len", "future_seq_len"),
    ("probabilistic", "probabilistic"),
)


@dataclass(frozen=True)
class ModelShape:
    """The loaded model as the export and the manifest describe it."""

    architecture: str
    contract: Contract
    feature_set: str
    input_dim: int
    horizon: int
    modes: int
    output_names: tuple[str, ...]
    params: dict[str, Any]  # the sizes the model was built with
    warnings: list[str] = field(default_factory=list)
    extra_inputs: tuple[str, ...] = ()  # after the contract's inputs: ("mode_ranks",) or none
    full_output_names: tuple[str, ...] = ()  # without mode_ranks: every mode in index order

    @property
    def selects_modes(self) -> bool:
        """Whether the exported graph decodes only the modes at the ranks it is given."""
        return MODE_RANKS in self.extra_inputs

    @property
    def input_names(self) -> tuple[str, ...]:
        """Every input of the exported graph, in order."""
        return (*self.contract.input_names, *self.extra_inputs)

    @property
    def inputs(self) -> dict[str, tuple[str, Shape]]:
        """Every input's dtype and symbolic shape (``modes_out``: how many modes are decoded)."""
        extra: dict[str, tuple[str, Shape]] = {MODE_RANKS: ("int64", ("modes_out",))}
        return {**self.contract.inputs, **{name: extra[name] for name in self.extra_inputs}}


def describe(model: Any, config: TrainingRunConfig, architecture: str, checkpoint: Path) -> ModelShape:
    """The shape of ``model``; ExportError when the config's input_dim disagrees with the weights."""
    contract = get_contract(getattr(model, "feature_contract", REFERENCE.name))
    outputs = tuple(getattr(model, "output_names", DEFAULT_OUTPUTS))
    spec = getattr(model, "spec", None)
    if spec is None:  # sized from the config
        return ModelShape(
            architecture,
            contract,
            _feature_set(contract, config.input_dim, checkpoint),
            config.input_dim,
            config.future_seq_len,
            config.modes,
            outputs,
            config.model_params(),
            full_output_names=outputs,
        )
    where = config.source or "the config"
    if spec.input_dim != config.input_dim:
        raise ExportError(
            f"{where} says input_dim {config.input_dim} but {checkpoint} was trained on {spec.input_dim} "
            "node features",
            hint="The feature set follows input_dim: use the config written by the same training run.",
        )
    warnings = [
        f"{where} says {key} {getattr(config, key)!r} but the weights of {checkpoint.name} have "
        f"{getattr(spec, attribute)!r}: using the weights"
        for key, attribute in _COMPARED
        if getattr(config, key) != getattr(spec, attribute)
    ]
    if spec.probabilistic and config.probabilistic and config.num_modes != spec.num_modes:
        warnings.append(
            f"{where} says num_modes {config.num_modes} but the weights of {checkpoint.name} have "
            f"{spec.num_modes}: using the weights"
        )
    return ModelShape(
        architecture,
        contract,
        _feature_set(contract, spec.input_dim, checkpoint),
        spec.input_dim,
        spec.future_seq_len,
        spec.modes,
        outputs,
        spec.as_dict(),
        warnings,
        tuple(getattr(model, "extra_inputs", ())),
        tuple(getattr(model, "full_output_names", outputs)),
    )


def _feature_set(contract: Contract, input_dim: int, checkpoint: Path) -> str:
    try:
        return contract.feature_set(input_dim)
    except ValueError as exc:
        raise ExportError(f"{checkpoint}: {exc}") from exc
