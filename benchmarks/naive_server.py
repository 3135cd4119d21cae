"""The deployment guide's naive design, for comparison: FastAPI + TorchScript, no batching, no cache.

    python benchmarks/naive_server.py EXPORT_DIR PORT

A synchronous endpoint (FastAPI runs it in its thread pool) validates the body with ordinary pydantic
models, builds the inputs with the same feature pipeline, calls the TorchScript module under no_grad and
returns the positions through FastAPI's default JSON encoding. Same model, same answers; only the design
differs.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from nfldeploy.model.contracts import get_contract
from nfldeploy.model.features import Play, PlayerState, best_mode, to_field_positions
from nfldeploy.records.manifest import read_manifest


class Player(BaseModel):
    x: float
    y: float
    s: float
    a: float
    dis: float = 0.0
    o: float
    dir: float
    nfl_id: int | None = None
    role: int | None = None
    side: int | None = None
    weight: float | None = None
    history: list[dict[str, float]] = []


class Context(BaseModel):
    down: int
    distance: float
    defenders_in_box: int | None = None
    formation: int | None = None
    alignment: int | None = None


class Request(BaseModel):
    players: list[Player]
    game_context: Context
    play_direction: str = "right"
    ball_land_x: float | None = None
    ball_land_y: float | None = None
    frame_t: float | None = None


def build(export_dir: Path) -> FastAPI:
    manifest = read_manifest(export_dir).model_dump(mode="json")
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = torch.jit.load(str(export_dir / manifest["artifacts"]["torchscript"]["file"])).eval()
    feature_set = manifest["model"]["feature_set"]
    contract = get_contract(manifest["model"].get("feature_contract", "reference-v1"))
    names = [item["name"] for item in manifest["signature"]["inputs"]]
    selects_modes, modes = "mode_ranks" in names, manifest["model"]["modes"]
    app = FastAPI()

    @app.post("/predict")
    def predict(request: Request) -> dict[str, object]:
        play = Play(
            players=[
                PlayerState(
                    p.x,
                    p.y,
                    p.s,
                    p.a,
                    p.dis,
                    p.o,
                    p.dir,
                    p.weight,
                    p.role,
                    p.side,
                    [(h["x"], h["y"]) for h in p.history],
                )
                for p in request.players
            ],
            down=request.game_context.down,
            distance=request.game_context.distance,
            defenders_in_box=request.game_context.defenders_in_box,
            play_direction=request.play_direction,
            ball_land_x=request.ball_land_x,
            ball_land_y=request.ball_land_y,
            formation=request.game_context.formation,
            alignment=request.game_context.alignment,
            frame_t=request.frame_t,
        )
        inputs = contract.encode([play], feature_set)
        if selects_modes:  # the design before top-k decoding: every mode is decoded
            inputs["mode_ranks"] = np.arange(modes)
        with torch.no_grad():
            traj, probs, *_ = model(*(torch.from_numpy(inputs[name]) for name in names))
        top = best_mode(traj.numpy(), probs.numpy())[:, :, None]
        positions = to_field_positions(top, [play])[0][:, 0]
        confidence = probs.numpy()[0].max(-1)
        return {
            "predictions": [
                {
                    "player_id": i,
                    "predicted_positions": np.round(positions[i], 3).tolist(),
                    "confidence": float(confidence[i]),
                }
                for i in range(len(play.players))
            ]
        }

    return app


if __name__ == "__main__":
    uvicorn.run(build(Path(sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
