"""The reference graph-attention trajectory model (plain torch, exportable to ONNX with dynamic axes).

Players are graph nodes; each attention layer is dense masked attention over the players of a play, limited
to pairs within ``radius`` yards, with a per-head bias computed from pairwise edge features (distance,
relative bearing, relative velocity, same team). The node embedding adds role, side, a history encoder over
the prior frames and the play context. The head predicts per-frame corrections to a constant-velocity
rollout, for ``num_modes`` modes with their probabilities when probabilistic.

Forward contract (see ``nfldeploy.model.features.REFERENCE_INPUT_NAMES`` / ``REFERENCE_OUTPUT_NAMES``)::

    forward(node_features, positions, velocities, roles, sides, history, history_mask, context, player_mask)
        -> (trajectories [B, P, M, T, 2], mode_probs [B, P, M])
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nfldeploy.model.features import (
    FRAME_SECONDS,
    HISTORY_LEN,
    NUM_ROLES,
    NUM_SIDES,
    REFERENCE_CONTEXT_DIM,
)

EDGE_DIM = 6
NEG_INF = -1.0e9


class _AttentionLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, hidden // heads
        self.norm1 = nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(
            nn.Linear(hidden, 2 * hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * hidden, hidden)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, h: Tensor, bias: Tensor, allowed: Tensor) -> Tensor:
        batch, players, hidden = h.shape
        q, k, v = self.qkv(self.norm1(h)).chunk(3, dim=-1)
        q = q.reshape(batch, players, self.heads, self.head_dim).transpose(1, 2)
        k = k.reshape(batch, players, self.heads, self.head_dim).transpose(1, 2)
        v = v.reshape(batch, players, self.heads, self.head_dim).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim) + bias
        scores = scores.masked_fill(~allowed.unsqueeze(1), NEG_INF)
        attn = torch.softmax(scores, dim=-1)
        mixed = torch.matmul(self.drop(attn), v).transpose(1, 2).reshape(batch, players, hidden)
        h = h + self.drop(self.out(mixed))
        result: Tensor = h + self.drop(self.ffn(self.norm2(h)))
        return result


class TrajectoryGAT(nn.Module):
    """Graph-attention trajectory model built from the training config's model keys."""

    steps: Tensor

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        num_gnn_layers: int,
        heads: int,
        future_seq_len: int,
        probabilistic: bool = False,
        num_modes: int = 1,
        dropout: float = 0.1,
        radius: float = 20.0,
    ) -> None:
        super().__init__()
        self.horizon = future_seq_len
        self.modes = num_modes if probabilistic else 1
        self.radius = radius
        self.heads = heads
        self.node_in = nn.Sequential(
            nn.Linear(input_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, hidden_dim)
        )
        self.role_emb = nn.Embedding(NUM_ROLES, hidden_dim)
        self.side_emb = nn.Embedding(NUM_SIDES, hidden_dim)
        self.history_in = nn.Sequential(nn.Linear(HISTORY_LEN * 3, hidden_dim), nn.GELU())
        self.context_in = nn.Linear(REFERENCE_CONTEXT_DIM, hidden_dim)
        self.edge_mlp = nn.Sequential(
            nn.Linear(EDGE_DIM, 32), nn.GELU(), nn.Linear(32, heads * num_gnn_layers)
        )
        self.layers = nn.ModuleList(
            _AttentionLayer(hidden_dim, heads, dropout) for _ in range(num_gnn_layers)
        )
        self.head_norm = nn.LayerNorm(hidden_dim)
        self.traj_head = nn.Sequential(
            nn.Linear(hidden_dim, hidden_dim),
            nn.GELU(),
            nn.Linear(hidden_dim, self.modes * future_seq_len * 2),
        )
        self.mode_head = nn.Linear(hidden_dim, self.modes)
        steps = torch.arange(1, future_seq_len + 1, dtype=torch.float32) * FRAME_SECONDS
        self.register_buffer("steps", steps, persistent=False)

    def _edges(self, positions: Tensor, velocities: Tensor, sides: Tensor) -> tuple[Tensor, Tensor]:
        rel = positions.unsqueeze(1) - positions.unsqueeze(2)  # [B, P, P, 2]: j minus i
        dist = torch.sqrt((rel * rel).sum(-1) + 1.0e-6)
        unit = rel / dist.unsqueeze(-1)
        rel_vel = (velocities.unsqueeze(1) - velocities.unsqueeze(2)) / 5.0
        same = (sides.unsqueeze(1) == sides.unsqueeze(2)).to(positions.dtype)
        feats = torch.cat([(dist / self.radius).unsqueeze(-1), unit, rel_vel, same.unsqueeze(-1)], dim=-1)
        return feats, dist

    def forward(
        self,
        node_features: Tensor,
        positions: Tensor,
        velocities: Tensor,
        roles: Tensor,
        sides: Tensor,
        history: Tensor,
        history_mask: Tensor,
        context: Tensor,
        player_mask: Tensor,
    ) -> tuple[Tensor, Tensor]:
        batch, players, _ = node_features.shape
        hist = torch.cat([history, history_mask.unsqueeze(-1)], dim=-1).reshape(
            batch, players, HISTORY_LEN * 3
        )
        h = (
            self.node_in(node_features)
            + self.role_emb(roles)
            + self.side_emb(sides)
            + self.history_in(hist)
            + self.context_in(context).unsqueeze(1)
        )
        edge_feats, dist = self._edges(positions, velocities, sides)
        valid = player_mask > 0.5
        eye = torch.eye(players, dtype=torch.bool, device=h.device).unsqueeze(0)
        allowed = ((dist <= self.radius) & valid.unsqueeze(1) & valid.unsqueeze(2)) | eye
        biases = self.edge_mlp(edge_feats).permute(0, 3, 1, 2)  # [B, heads * L, P, P]
        for index, layer in enumerate(self.layers):
            h = layer(h, biases[:, index * self.heads : (index + 1) * self.heads], allowed)
        h = self.head_norm(h)
        corrections = self.traj_head(h).reshape(batch, players, self.modes, self.horizon, 2)
        rollout = velocities.unsqueeze(2).unsqueeze(3) * self.steps.reshape(1, 1, 1, -1, 1)
        trajectories = (rollout + torch.cumsum(corrections, dim=3)) * player_mask.reshape(
            batch, players, 1, 1, 1
        )
        mode_probs = torch.softmax(self.mode_head(h), dim=-1)
        return trajectories, mode_probs
