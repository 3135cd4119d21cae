"""Train the training project's architecture (NFLGraphTransformer) on simulated plays and save a checkpoint
in that project's Lightning format.

    python examples/train.py [--plays 2000] [--epochs 24] [--batch-size 32]

Reads examples/outputs/nfl_production_v2_config.json (the training project's flat config), trains on CPU in a
few minutes, and writes examples/checkpoints/nfl_production_v2-best.ckpt (``state_dict`` with ``model.<param>``
keys and ``hyper_parameters``, as a Lightning run does) and examples/outputs/training_report.json: RMSE / ADE /
FDE of the most likely mode and of the constant-velocity baseline on the same held-out test plays, and the
coverage head's accuracy (the best epoch is picked on separate validation plays).

Losses: winner-takes-all over modes on the displacement error (Euclidean plus squared), cross-entropy of the mode probabilities toward
the best mode, the best mode's bivariate Gaussian negative log-likelihood (so that sigma and rho mean
something), and binary cross-entropy of the coverage head (1 = zone).
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
from nfldeploy.model.contracts import GRAPH
from nfldeploy.model.features import HISTORY_LEN, Play, best_mode, constant_velocity, to_field_positions
from nfldeploy.model.metrics import trajectory_metrics
from nfldeploy.model.simulate import simulate_plays

HERE = Path(__file__).parent
CONFIG = HERE / "outputs" / "nfl_production_v2_config.json"
N_FRAMES = 40
HELDOUT_SEED = 20_251_126  # test plays: only for the final report
VALIDATION_SEED = 20_251_127  # validation plays: pick the best epoch
Sample = tuple[Play, np.ndarray, float]


def windows(count: int, seed: int, horizon: int, per_play: int = 1) -> list[Sample]:
    """(play at a random current frame, true future positions, 1.0 if zone coverage else 0.0)."""
    rng = np.random.default_rng(seed + 1)
    result = []
    for play in simulate_plays(count, seed, N_FRAMES):
        for _ in range(per_play):
            frame = int(rng.integers(HISTORY_LEN, N_FRAMES - horizon))
            result.append((play.play_at(frame), play.future(frame, horizon), float(play.zone)))
    return result


def tensors(
    samples: list[Sample], feature_set: str
) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    plays = [play for play, _, _ in samples]
    inputs = GRAPH.encode(plays, feature_set)
    targets = []  # displacements from the current position, in the standardized frame, padded to 22 players
    width = inputs["node_mask"].shape[1]
    for play, future, _ in samples:
        start = np.array([[p.x, p.y] for p in play.players], np.float32)[:, None, :]
        disp = future - start
        disp = -disp if play.play_direction == "left" else disp
        targets.append(np.pad(disp, ((0, width - len(disp)), (0, 0), (0, 0))))
    labels = torch.tensor([zone for _, _, zone in samples])
    return {k: torch.from_numpy(v) for k, v in inputs.items()}, torch.from_numpy(np.stack(targets)), labels


def loss_fn(
    outputs: tuple[torch.Tensor, ...], target: torch.Tensor, zone: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    mu, probs, spread, coverage = outputs  # [B, P, K, T, 2], [B, P, K], [B, P, K, T, 3], [B]
    diff = mu - target.unsqueeze(2)
    err = torch.sqrt((diff**2).sum(-1) + 1e-6).mean(-1)  # [B, P, K]
    best = err.argmin(-1, keepdim=True)
    wta = err.gather(-1, best).squeeze(-1)
    ce = -torch.log(probs.gather(-1, best).squeeze(-1) + 1e-6)
    pick = best[..., None, None].expand(-1, -1, 1, diff.shape[3], 2)
    d = diff.gather(2, pick).squeeze(2)  # [B, P, T, 2]
    s = spread.gather(2, best[..., None, None].expand(-1, -1, 1, diff.shape[3], 3)).squeeze(2)
    sx, sy, rho = s[..., 0], s[..., 1], s[..., 2].clamp(-0.95, 0.95)
    z = (d[..., 0] / sx) ** 2 + (d[..., 1] / sy) ** 2 - 2 * rho * d[..., 0] * d[..., 1] / (sx * sy)
    nll = (torch.log(sx * sy * torch.sqrt(1 - rho**2)) + z / (2 * (1 - rho**2))).mean(-1)
    squared = (d**2).sum(-1).mean(-1)  # RMSE, the bar the model must clear, weighs large errors more
    per_player = wta + squared + 0.5 * ce + 0.02 * nll
    bce = torch.nn.functional.binary_cross_entropy_with_logits(coverage, zone)
    return (per_player * mask).sum() / mask.sum() + 0.1 * bce


def evaluate(
    model: torch.nn.Module, samples: list[Sample], feature_set: str, horizon: int
) -> dict[str, dict[str, float]]:
    """Held-out metrics of the most likely mode, of constant velocity, and coverage accuracy."""
    plays = [play for play, _, _ in samples]
    truth = [future for _, future, _ in samples]
    inputs = GRAPH.encode(plays, feature_set)
    with torch.no_grad():
        mu, probs, _, coverage = model(*(torch.from_numpy(inputs[name]) for name in GRAPH.input_names))
    top = best_mode(mu.numpy(), probs.numpy())[:, :, None]
    predicted = [p[:, 0] for p in to_field_positions(top, plays)]
    zone = np.array([label for _, _, label in samples])
    accuracy = float(((coverage.numpy() > 0) == (zone > 0.5)).mean())
    return {
        "model": trajectory_metrics(predicted, truth),
        "constant_velocity": trajectory_metrics(constant_velocity(plays, horizon), truth),
        "coverage": {"accuracy": accuracy, "zone_share": float(zone.mean())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--plays", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=HERE / "checkpoints" / "nfl_production_v2-best.ckpt")
    args = parser.parse_args()

    config = load_training_config(CONFIG)
    raw = config.raw
    seed = config.seed or 0
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    horizon = config.future_seq_len
    started = time.perf_counter()
    train = windows(args.plays, seed, horizon, per_play=3)
    validation = windows(300, VALIDATION_SEED, horizon)
    heldout = windows(300, HELDOUT_SEED, horizon)
    feature_set = GRAPH.feature_set(config.input_dim)
    inputs, targets, labels = tensors(train, feature_set)
    model = build_model(config, "nfl_graph_transformer")
    lr = raw.get("learning_rate", 3e-4) * 10
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=raw.get("weight_decay", 0.01))
    batch_size = args.batch_size
    steps_per_epoch = len(train) // batch_size
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=args.epochs * steps_per_epoch
    )
    generator = torch.Generator().manual_seed(seed)
    best_state, best_ade = None, float("inf")
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train), generator=generator)
        total = 0.0
        for step in range(steps_per_epoch):
            idx = order[step * batch_size : (step + 1) * batch_size]
            outputs = model(*(inputs[name][idx] for name in GRAPH.input_names))
            loss = loss_fn(outputs, targets[idx], labels[idx], inputs["node_mask"][idx])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            total += loss.item()
        model.eval()
        metrics = evaluate(model, validation, feature_set, horizon)
        ade = metrics["model"]["ade"]
        print(
            f"epoch {epoch + 1:3d}  train loss {total / steps_per_epoch:.4f}  validation ADE {ade:.3f} "
            f"(CV {metrics['constant_velocity']['ade']:.3f})  coverage accuracy {metrics['coverage']['accuracy']:.2f}",
            flush=True,
        )
        if ade < best_ade:
            best_ade, best_state = ade, {k: v.detach().clone() for k, v in model.state_dict().items()}
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    metrics = evaluate(model, heldout, feature_set, horizon)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    hyper = {
        "input_dim": config.input_dim,
        "hidden_dim": config.hidden_dim,
        "lr": lr,
        "future_seq_len": horizon,
        "probabilistic": config.probabilistic,
        "num_modes": config.num_modes,
    }
    torch.save(
        {
            "epoch": args.epochs,
            "global_step": args.epochs * steps_per_epoch,
            "state_dict": {f"model.{k}": v for k, v in best_state.items()},
            "hyper_parameters": hyper,
        },
        args.out,
    )
    ratio = {k: metrics["model"][k] / metrics["constant_velocity"][k] for k in ("rmse", "ade", "fde")}
    report = {
        "architecture": "nfl_graph_transformer",
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
