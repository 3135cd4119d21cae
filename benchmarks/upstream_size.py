"""Export a model of the training project's real size, for the benchmarks.

    python benchmarks/upstream_size.py OUT_DIR

What the training project's Lightning module builds for its production config (nfl_production_v2: hidden 128;
heads 4 and 4 GAT layers whatever the config says; probabilistic, 8 modes; 1,360,719 parameters), with seeded
random weights: such a model cannot be trained on this machine in minutes, and latency does not depend on the
weights. The checkpoint is written in that project's Lightning layout and exported with nfldeploy export
(ONNX, TorchScript, INT8; the INT8 accuracy gate then compares random models, so read its figures from the
trained example instead). Then: python benchmarks/export_variants.py OUT_DIR, python benchmarks/serve.py OUT_DIR.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from nfldeploy.export.pipeline import ExportOptions, run_export
from nfldeploy.model.graph_transformer import GraphTransformerSpec, NFLGraphTransformer

SPEC = GraphTransformerSpec(
    input_dim=9, hidden_dim=128, heads=4, num_gnn_layers=4, probabilistic=True, num_modes=8
)
CONFIG = {  # as the training project wrote it: heads 8 and 6 layers never reached its model
    "experiment_name": "nfl_production_v2_real_size",
    "input_dim": 9,
    "hidden_dim": 128,
    "num_gnn_layers": 6,
    "heads": 8,
    "future_seq_len": 10,
    "probabilistic": True,
    "num_modes": 8,
    "dropout": 0.1,
}


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/real_size")
    run = out.parent / f"{out.name}-run"
    (run / "outputs").mkdir(parents=True, exist_ok=True)
    config = run / "outputs" / f"{CONFIG['experiment_name']}_config.json"
    config.write_text(json.dumps(CONFIG, indent=2))
    torch.manual_seed(0)
    model = NFLGraphTransformer(SPEC)
    checkpoint = run / "real_size.ckpt"
    state = {f"model.{key}": value for key, value in model.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": {"hidden_dim": 128, "num_modes": 8}}, checkpoint)
    manifest = run_export(ExportOptions(config=config, checkpoint=checkpoint, out=out, on_step=print))
    print(f"exported to {out}: {', '.join(manifest.artifacts)}")


if __name__ == "__main__":
    main()
