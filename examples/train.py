"""Train the reference model on simulated plays and write a Lightning-style checkpoint.

    python examples/train.py [--plays 3000] [--epochs 30]

Reads examples/outputs/nfl_production_v2_config.json (the training project's format), trains on CPU in a few
minutes, writes examples/checkpoints/nfl_production_v2-best.ckpt (``{"state_dict": {"model.<param>": ...}}``)
and examples/outputs/training_report.json with RMSE / ADE / FDE of the model and of the constant-velocity
baseline on the same held-out test plays (the best epoch is picked on separate validation plays).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from nfldeploy.config import load_training_config
from nfldeploy.model import build_model
from nfldeploy.model.features import INPUT_NAMES, constant_velocity, encode_plays, to_field_positions
from nfldeploy.model.metrics import trajectory_metrics
from nfldeploy.model.simulate import sample_windows, simulate_plays

HERE = Path(__file__).parent
CONFIG = HERE / "outputs" / "nfl_production_v2_config.json"
N_FRAMES = 40
HELDOUT_SEED = 20_251_126  # test plays: only for the final report
VALIDATION_SEED = 20_251_127  # validation plays: pick the best epoch


def _tensors(samples, feature_set):  # type: ignore[no-untyped-def]
    plays = [play for play, _ in samples]
    inputs = encode_plays(plays, feature_set)
    # Targets in the standardized frame: displacement from the current position.
    targets = []
    for play, future in samples:
        start = np.array([[p.x, p.y] for p in play.players], np.float32)[:, None, :]
        disp = future - start
        targets.append(-disp if play.play_direction == "left" else disp)
    return {k: torch.from_numpy(v) for k, v in inputs.items()}, torch.from_numpy(np.stack(targets))


def _loss(traj: torch.Tensor, probs: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # Winner-takes-all over modes on the displacement error, plus cross-entropy toward the best mode.
    err = torch.sqrt(((traj - target.unsqueeze(2)) ** 2).sum(-1) + 1e-6).mean(-1)  # [B, P, M]
    best = err.argmin(-1)
    wta = err.gather(-1, best.unsqueeze(-1)).squeeze(-1)
    nll = -torch.log(probs.gather(-1, best.unsqueeze(-1)).squeeze(-1) + 1e-6)
    return ((wta + 0.1 * nll) * mask).sum() / mask.sum()


def evaluate(model: torch.nn.Module, samples, feature_set: str) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    """Held-out metrics of the model's most likely mode and of constant velocity."""
    plays = [play for play, _ in samples]
    truth = [future for _, future in samples]
    inputs = encode_plays(plays, feature_set)
    with torch.no_grad():
        traj, probs = model(*(torch.from_numpy(inputs[name]) for name in INPUT_NAMES))
    best = probs.argmax(-1)
    top = traj.gather(2, best[..., None, None, None].expand(-1, -1, 1, traj.shape[3], 2))
    predicted = [p[:, 0] for p in to_field_positions(top.numpy(), plays)]
    return {
        "model": trajectory_metrics(predicted, truth),
        "constant_velocity": trajectory_metrics(constant_velocity(plays, traj.shape[3]), truth),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--plays", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=HERE / "checkpoints" / "nfl_production_v2-best.ckpt")
    args = parser.parse_args()

    config = load_training_config(CONFIG)
    raw = config.raw
    torch.manual_seed(config.seed or 0)
    torch.set_num_threads(2)
    horizon = config.future_seq_len
    started = time.perf_counter()
    train = sample_windows(simulate_plays(args.plays, config.seed or 0, N_FRAMES), horizon, 1, per_play=3)
    validation = sample_windows(simulate_plays(300, VALIDATION_SEED, N_FRAMES), horizon, 3)
    heldout = sample_windows(simulate_plays(300, HELDOUT_SEED, N_FRAMES), horizon, 2)
    inputs, targets = _tensors(train, config.feature_set)
    model = build_model(config)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=raw.get("learning_rate", 3e-4) * 5, weight_decay=raw.get("weight_decay", 0.01)
    )
    batch_size = int(raw.get("batch_size", 32)) * 2
    steps_per_epoch = len(train) // batch_size
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=optimizer.param_groups[0]["lr"], total_steps=args.epochs * steps_per_epoch
    )
    generator = torch.Generator().manual_seed(config.seed or 0)
    best_state, best_ade = None, float("inf")
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train), generator=generator)
        total = 0.0
        for step in range(steps_per_epoch):
            idx = order[step * batch_size : (step + 1) * batch_size]
            traj, probs = model(*(inputs[name][idx] for name in INPUT_NAMES))
            loss = _loss(traj, probs, targets[idx], inputs["player_mask"][idx])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            total += loss.item()
        model.eval()
        metrics = evaluate(model, validation, config.feature_set)
        ade = metrics["model"]["ade"]
        print(
            f"epoch {epoch + 1:3d}  train loss {total / steps_per_epoch:.4f}  validation ADE {ade:.3f}  (CV {metrics['constant_velocity']['ade']:.3f})",
            flush=True,
        )
        if ade < best_ade:
            best_ade, best_state = ade, {k: v.detach().clone() for k, v in model.state_dict().items()}
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    metrics = evaluate(model, heldout, config.feature_set)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "epoch": args.epochs,
            "global_step": args.epochs * steps_per_epoch,
            "state_dict": {f"model.{k}": v for k, v in best_state.items()},
            "hyper_parameters": raw,
        },
        args.out,
    )
    ratio = {k: metrics["model"][k] / metrics["constant_velocity"][k] for k in ("rmse", "ade", "fde")}
    report = {
        "heldout_plays": len(heldout),
        "train_windows": len(train),
        "epochs": args.epochs,
        "seconds": round(time.perf_counter() - started, 1),
        **metrics,
        "model_over_constant_velocity": ratio,
    }
    (CONFIG.parent / "training_report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
