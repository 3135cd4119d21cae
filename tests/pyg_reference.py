"""A test-only reference of the training project's model, composed from PyTorch Geometric's real GATv2Conv,
scatter and global_mean_pool and torch's own LSTM, MultiheadAttention and TransformerEncoder, written from
the specification (shared/UPSTREAM_MODEL.md, sections 2-3) over PyG batches of variable-size graphs. It has
the same state-dict keys as nfldeploy's dense module, so one state dict loads into both with strict=True."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATv2Conv, global_mean_pool
from torch_geometric.utils import scatter, to_dense_batch

from nfldeploy.model.graph_transformer import GraphTransformerSpec


class _Social(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.interaction_mlp = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Dropout(0.1), nn.Linear(hidden, hidden)
        )
        self.gate = nn.Linear(hidden, hidden)

    def forward(self, h: Tensor, edge_index: Tensor) -> Tensor:
        src, dst = edge_index
        m = self.interaction_mlp(torch.cat([h[src], h[dst]], dim=-1))
        message = m * torch.sigmoid(self.gate(m))
        return scatter(message, src, dim=0, dim_size=h.shape[0], reduce="mean")


class _History(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(4, hidden, num_layers=2, batch_first=True)
        self.output_proj = nn.Linear(hidden, hidden)

    def forward(self, history: Tensor) -> Tensor:
        _, (h_n, _) = self.lstm(history)
        return self.output_proj(h_n[-1])


class _Encoder(nn.Module):
    def __init__(self, s: GraphTransformerSpec) -> None:
        super().__init__()
        H = s.hidden_dim
        self.embedding = nn.Linear(s.input_dim, H)
        self.role_emb = nn.Embedding(5, H)
        self.side_emb = nn.Embedding(3, H // 2)
        self.context_encoder = nn.Linear(3, H)
        self.formation_emb = nn.Embedding(8, H)
        self.alignment_emb = nn.Embedding(10, H)
        self.temporal_emb = nn.Embedding(100, H)
        self.gat_layers = nn.ModuleList(
            GATv2Conv(H, H, heads=s.heads, concat=False, edge_dim=s.edge_dim) for _ in range(s.num_gnn_layers)
        )
        self.layer_norms = nn.ModuleList(nn.LayerNorm(H) for _ in range(s.num_gnn_layers))
        self.social_pooling = _Social(H)
        self.history_encoder = _History(H)
        self.final_norm = nn.LayerNorm(H)

    def forward(self, g: dict[str, Tensor]) -> Tensor:
        H = self.embedding.out_features
        batch = g["batch"]
        h = torch.relu(self.embedding(g["x"])) + self.role_emb(g["role"])
        h = h + F.pad(self.side_emb(g["side"]), (0, H - H // 2))
        step = (g["frame_t"] * 99).long().clamp(0, 99)  # per graph: the batch quirk is not reproduced
        h = h + self.temporal_emb(step)[batch]
        c = torch.relu(self.context_encoder(g["context"])) + self.formation_emb(g["formation"])
        h = h + (c + self.alignment_emb(g["alignment"]))[batch]
        h = h + self.history_encoder(g["history"])
        for gat, norm in zip(self.gat_layers, self.layer_norms, strict=True):
            h = norm(torch.relu(gat(h, g["edge_index"], g["edge_attr"])) + h)
        if g["edge_index"].shape[1] > 0:
            h = h + self.social_pooling(h, g["edge_index"])
        return self.final_norm(h)


class _Scene(nn.Module):
    def __init__(self, H: int, heads: int) -> None:
        super().__init__()
        self.inducing_points = nn.Parameter(torch.randn(8, H))
        self.cross_attention = nn.MultiheadAttention(H, heads, dropout=0.1, batch_first=True)
        self.pool_attention = nn.Linear(H, 1)
        self.output_proj = nn.Sequential(nn.Linear(H, H), nn.ReLU(), nn.Linear(H, H))

    def forward(self, h: Tensor, batch: Tensor) -> Tensor:
        dense, mask = to_dense_batch(h, batch)
        q = self.inducing_points.unsqueeze(0).expand(dense.shape[0], -1, -1)
        attended, _ = self.cross_attention(q, dense, dense, key_padding_mask=~mask)
        w = torch.softmax(self.pool_attention(attended), dim=1)
        return self.output_proj((w * attended).sum(1))


def _transformer(s: GraphTransformerSpec) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(s.hidden_dim, s.heads, s.ffn, dropout=0.1, batch_first=True)
    return nn.TransformerEncoder(layer, 2)


class _Decoder(nn.Module):
    def __init__(self, s: GraphTransformerSpec) -> None:
        super().__init__()
        H, T = s.hidden_dim, s.future_seq_len
        self.probabilistic = s.probabilistic
        if not s.probabilistic:
            self.pos_embedding = nn.Parameter(torch.randn(1, 20, H))
        self.query_pos_emb = nn.Parameter(torch.randn(1, T, H))
        self.transformer = _transformer(s)
        if s.probabilistic:
            self.mode_emb = nn.Embedding(s.num_modes, H)
            self.gmm_head = nn.Sequential(nn.Linear(H, H), nn.ReLU(), nn.Linear(H, 5))
            self.mode_prob_head = nn.Linear(H, s.num_modes)
        else:
            self.output_head = nn.Linear(H, 2)

    def forward(self, node: Tensor, valid: Tensor) -> tuple[Tensor, ...]:
        T = self.query_pos_emb.shape[1]
        pad = (~valid).unsqueeze(1).expand(-1, T)
        if not self.probabilistic:
            x = node.unsqueeze(1).repeat(1, T, 1) + self.query_pos_emb
            out = self.output_head(self.transformer(x, src_key_padding_mask=pad))
            return (out.masked_fill(~valid[:, None, None], 0.0),)
        probs = torch.softmax(self.mode_prob_head(node), dim=-1)
        params = []
        for m in range(self.mode_emb.weight.shape[0]):
            x = (node + self.mode_emb.weight[m]).unsqueeze(1).repeat(1, T, 1) + self.query_pos_emb
            raw = self.gmm_head(self.transformer(x, src_key_padding_mask=pad))
            sigma = torch.exp(raw[..., 2:4]).clamp(0.01, 10.0)
            params.append(torch.cat([raw[..., :2], sigma, torch.tanh(raw[..., 4:5])], dim=-1))
        stacked = torch.stack(params, dim=2)  # [N, T, K, 5]
        return stacked.masked_fill(~valid[:, None, None, None], 0.0), probs


class PygGraphTransformer(nn.Module):
    """The reference: forward over a PyG-style batch dict -> per node outputs and per graph coverage."""

    def __init__(self, s: GraphTransformerSpec) -> None:
        super().__init__()
        self.encoder = _Encoder(s)
        if s.scene_encoder:
            self.scene_encoder = _Scene(s.hidden_dim, s.heads)
        self.decoder = _Decoder(s)
        self.classifier = nn.Linear(s.hidden_dim, 1)
        self.has_scene = s.scene_encoder

    def forward(self, g: dict[str, Tensor]) -> tuple[tuple[Tensor, ...], Tensor]:
        h = self.encoder(g)
        if self.has_scene:
            h = h + 0.5 * self.scene_encoder(h, g["batch"])[g["batch"]]
        coverage = self.classifier(global_mean_pool(h, g["batch"])).squeeze(-1)
        return self.decoder(h, g["valid_mask"]), coverage


def to_pyg_batch(inputs: dict[str, Any], valid: np.ndarray | None = None) -> dict[str, Tensor]:
    """Dense contract inputs -> a PyG batch: nodes of every play concatenated, edges (source, target) in
    row-major order of the source, as the training project's nonzero() gives them."""
    mask = inputs["node_mask"] > 0.5
    counts = mask.sum(1).astype(int)
    xs, roles, sides, hist, batch, src, dst, attrs, valids = [], [], [], [], [], [], [], [], []
    offset = 0
    for b, n in enumerate(counts):
        xs.append(inputs["node_features"][b, :n])
        roles.append(inputs["roles"][b, :n])
        sides.append(inputs["sides"][b, :n])
        hist.append(inputs["history"][b, :n])
        batch.append(np.full(n, b))
        valids.append(np.ones(n, bool) if valid is None else valid[b, :n])
        adjacency = inputs["adjacency"][b, :n, :n]  # [target, source]
        sources, targets = np.nonzero(adjacency.T > 0.5)
        src.append(sources + offset)
        dst.append(targets + offset)
        attrs.append(inputs["edge_attr"][b, targets, sources])
        offset += n
    return {
        "x": torch.from_numpy(np.concatenate(xs)),
        "role": torch.from_numpy(np.concatenate(roles)),
        "side": torch.from_numpy(np.concatenate(sides)),
        "history": torch.from_numpy(np.concatenate(hist)),
        "batch": torch.from_numpy(np.concatenate(batch)).long(),
        "edge_index": torch.from_numpy(np.stack([np.concatenate(src), np.concatenate(dst)])).long(),
        "edge_attr": torch.from_numpy(np.concatenate(attrs).reshape(-1, 5)),
        "valid_mask": torch.from_numpy(np.concatenate(valids)),
        "context": torch.from_numpy(inputs["context"]),
        "formation": torch.from_numpy(inputs["formation"]),
        "alignment": torch.from_numpy(inputs["alignment"]),
        "frame_t": torch.from_numpy(inputs["frame_t"]),
    }
