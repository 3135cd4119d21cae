"""The training project's ``NFLGraphTransformer`` in plain torch, state-dict compatible, exportable to ONNX.

The training project (tanm-sys/NFL) builds it from PyTorch Geometric (GATv2Conv, scatter, to_dense_batch)
over a batch of variable-size graphs. Here every play is a dense block ``[B, P, ...]`` with a node mask, so
the same computation exports with dynamic batch and player axes and runs in onnxruntime without custom ops.
Parameter names and shapes are exactly the training project's, so its checkpoints load with
``strict=True`` (``nfldeploy.export.checkpoint`` reads a checkpoint; ``spec_from_state_dict`` below infers the
sizes from its weights).

Graph conventions (the feature contract in ``nfldeploy.model.graph_features``): ``adjacency[b, i, j]`` is 1
when there is an edge from source player j to target player i, and ``edge_attr[b, i, j]`` holds that edge's
five attributes. There are no self edges in the input; each GATv2 layer adds a self loop per player whose
attributes are the mean of the player's incoming edges (zeros without any), as PyG does.

Deviations from the training project, by design: each play is computed on its own (upstream adds the first
graph's ``frame_t`` embedding to every graph of a batch), and padding players (``node_mask`` 0) take part in
nothing. Invalid players (``valid_mask`` 0, present in the play but not at the current frame) behave as
upstream: they stay nodes of the scene encoder and the coverage pool, and their trajectories are zero.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nfldeploy.errors import ConfigError
from nfldeploy.model.modes import MODE_RANKS

NUM_ROLES = 5
NUM_SIDES = 3
NUM_FORMATIONS = 8
NUM_ALIGNMENTS = 10
NUM_TEMPORAL = 100
CONTEXT_DIM = 3
EDGE_DIM = 5
HISTORY_DIM = 4
NUM_INDUCING = 8
DECODER_LAYERS = 2
DETERMINISTIC_FFN = 2048  # PyTorch's default dim_feedforward, which the deterministic decoder keeps
POS_EMBEDDING_LEN = 20
MASKED = -1.0e30


@dataclass(frozen=True)
class GraphTransformerSpec:
    """The sizes that shape the model; read from a checkpoint's weights (never from the config)."""

    input_dim: int
    hidden_dim: int
    heads: int = 4
    num_gnn_layers: int = 4
    future_seq_len: int = 10
    probabilistic: bool = False
    num_modes: int = 1
    edge_dim: int = EDGE_DIM
    scene_encoder: bool = True
    decoder_ffn: int | None = None  # None: 4 * hidden (probabilistic) or 2048 (deterministic)

    @property
    def modes(self) -> int:
        """Trajectories per player (1 when deterministic)."""
        return self.num_modes if self.probabilistic else 1

    @property
    def ffn(self) -> int:
        """The decoder's feed-forward width."""
        if self.decoder_ffn is not None:
            return self.decoder_ffn
        return 4 * self.hidden_dim if self.probabilistic else DETERMINISTIC_FFN

    def as_dict(self) -> dict[str, int | bool]:
        """JSON-ready form, with the feed-forward width resolved."""
        return {**asdict(self), "decoder_ffn": self.ffn}


def spec_from_state_dict(state: dict[str, Any]) -> GraphTransformerSpec:
    """The sizes a checkpoint's weights imply (heads, layers, horizon, modes, decoder width, ...)."""

    def shape(key: str) -> tuple[int, ...]:
        if key not in state:
            raise ConfigError(
                f"the checkpoint has no {key!r}: not a complete NFLGraphTransformer state dict",
                hint="Pass the training run's .ckpt (or its model state dict) unchanged.",
            )
        return tuple(state[key].shape)

    hidden, input_dim = shape("encoder.embedding.weight")
    layers = {int(m.group(1)) for key in state if (m := re.match(r"encoder\.gat_layers\.(\d+)\.", key))}
    probabilistic = "decoder.mode_emb.weight" in state
    return GraphTransformerSpec(
        input_dim=input_dim,
        hidden_dim=hidden,
        heads=shape("encoder.gat_layers.0.att")[1],
        num_gnn_layers=len(layers),
        future_seq_len=shape("decoder.query_pos_emb")[1],
        probabilistic=probabilistic,
        num_modes=shape("decoder.mode_emb.weight")[0] if probabilistic else 1,
        edge_dim=shape("encoder.gat_layers.0.lin_edge.weight")[1],
        scene_encoder=any(key.startswith("scene_encoder.") for key in state),
        decoder_ffn=shape("decoder.transformer.layers.0.linear1.weight")[0],
    )


class PackedAttention(nn.Module):
    """Multi-head attention with ``nn.MultiheadAttention``'s parameter layout (packed q, k, v projection),
    written with matmul and softmax so that torch.export and onnxruntime take it as it is."""

    def __init__(self, embed_dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, query: Tensor, key: Tensor, key_mask: Tensor | None = None) -> Tensor:
        """query [N, Lq, E], key = value [N, Lk, E], key_mask [N, Lk] (1 = attend); -> [N, Lq, E]."""
        n, lq, embed = query.shape
        lk = key.shape[1]
        wq, wk, wv = self.in_proj_weight.chunk(3, dim=0)
        bq, bk, bv = self.in_proj_bias.chunk(3, dim=0)
        head_dim = embed // self.heads
        q = F.linear(query, wq, bq).reshape(n, lq, self.heads, head_dim).transpose(1, 2)
        k = F.linear(key, wk, bk).reshape(n, lk, self.heads, head_dim).transpose(1, 2)
        v = F.linear(key, wv, bv).reshape(n, lk, self.heads, head_dim).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(head_dim)
        if key_mask is not None:
            scores = scores.masked_fill(key_mask[:, None, None, :] < 0.5, MASKED)
        mixed = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(n, lq, embed)
        out: Tensor = self.out_proj(mixed)
        return out


class GATv2Layer(nn.Module):
    """PyG ``GATv2Conv(H, H, heads, concat=False, edge_dim)`` at eval: self loops with mean-filled edge
    attributes, attention softmax per target over its incoming edges, messages from lin_l of the source,
    mean over heads, plus bias."""

    def __init__(self, hidden: int, heads: int, edge_dim: int) -> None:
        super().__init__()
        self.heads, self.hidden = heads, hidden
        self.att = nn.Parameter(torch.empty(1, heads, hidden))
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.lin_l = nn.Linear(hidden, heads * hidden)
        self.lin_r = nn.Linear(hidden, heads * hidden)
        self.lin_edge = nn.Linear(edge_dim, heads * hidden, bias=False)
        nn.init.xavier_uniform_(self.att)

    def forward(self, h: Tensor, edge_attr: Tensor, adjacency: Tensor, eye: Tensor) -> Tensor:
        batch, players, _ = h.shape
        source = self.lin_l(h).reshape(batch, players, self.heads, self.hidden)
        target = self.lin_r(h).reshape(batch, players, self.heads, self.hidden)
        incoming = adjacency.sum(-1, keepdim=True)  # [B, P, 1]
        loop_attr = (adjacency.unsqueeze(-1) * edge_attr).sum(2) / incoming.clamp(min=1.0)
        attr = torch.where(eye.unsqueeze(-1), loop_attr.unsqueeze(2), edge_attr)  # [B, i, j, E]
        edge = self.lin_edge(attr).reshape(batch, players, players, self.heads, self.hidden)
        z = F.leaky_relu(source.unsqueeze(1) + target.unsqueeze(2) + edge, 0.2)  # [B, i, j, h, H]
        logits = (z * self.att[0]).sum(-1)  # [B, i, j, h]
        allowed = (adjacency > 0.5) | eye
        logits = logits.masked_fill(~allowed.unsqueeze(-1), MASKED)
        alpha = torch.softmax(logits, dim=2)
        out = torch.einsum("bijk,bjkc->bikc", alpha, source)
        result: Tensor = out.mean(dim=2) + self.bias
        return result


class SocialPooling(nn.Module):
    """Gated messages over each player's outgoing edges, averaged (zero without edges)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.interaction_mlp = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Dropout(0.1), nn.Linear(hidden, hidden)
        )
        self.gate = nn.Linear(hidden, hidden)

    def forward(self, h: Tensor, adjacency: Tensor) -> Tensor:
        first: nn.Linear = self.interaction_mlp[0]  # type: ignore[assignment]
        last: nn.Linear = self.interaction_mlp[3]  # type: ignore[assignment]
        hidden = h.shape[-1]
        # Linear([h_src | h_dst]) split into its two halves: no [B, P, P, 2H] tensor.
        own = F.linear(h, first.weight[:, :hidden], first.bias)
        other = F.linear(h, first.weight[:, hidden:])
        message = last(torch.relu(own.unsqueeze(2) + other.unsqueeze(1)))  # [B, src, dst, H]
        message = message * torch.sigmoid(self.gate(message))
        outgoing = adjacency.transpose(1, 2)  # [B, src, dst]: edge src -> dst
        count = outgoing.sum(-1, keepdim=True).clamp(min=1.0)
        pooled: Tensor = (outgoing.unsqueeze(-1) * message).sum(2) / count
        return pooled


class LSTM2(nn.Module):
    """``nn.LSTM(input, hidden, num_layers=2, batch_first=True)``'s parameters, unrolled over a few steps
    (exports to plain ONNX ops); returns the last layer's final hidden state."""

    def __init__(self, input_size: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        bound = 1.0 / math.sqrt(hidden)
        for layer, size in ((0, input_size), (1, hidden)):
            for name, shape in (
                (f"weight_ih_l{layer}", (4 * hidden, size)),
                (f"weight_hh_l{layer}", (4 * hidden, hidden)),
                (f"bias_ih_l{layer}", (4 * hidden,)),
                (f"bias_hh_l{layer}", (4 * hidden,)),
            ):
                self.register_parameter(name, nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))

    def _cell(self, layer: int, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        gates = F.linear(x, getattr(self, f"weight_ih_l{layer}"), getattr(self, f"bias_ih_l{layer}"))
        gates = gates + F.linear(h, getattr(self, f"weight_hh_l{layer}"), getattr(self, f"bias_hh_l{layer}"))
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def forward(self, sequence: Tensor) -> Tensor:
        """sequence [N, S, input] (oldest first) -> [N, hidden]."""
        zeros = sequence.new_zeros(sequence.shape[0], self.hidden)
        h0, c0, h1, c1 = zeros, zeros, zeros, zeros
        for step in range(sequence.shape[1]):
            h0, c0 = self._cell(0, sequence[:, step], h0, c0)
            h1, c1 = self._cell(1, h0, h1, c1)
        return h1


class HistoryEncoder(nn.Module):
    """LSTM over the 4 (velocity, acceleration) history steps, then a projection."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.lstm = LSTM2(HISTORY_DIM, hidden)
        self.output_proj = nn.Linear(hidden, hidden)

    def forward(self, history: Tensor) -> Tensor:
        batch, players, steps, dim = history.shape
        final = self.lstm(history.reshape(batch * players, steps, dim))
        out: Tensor = self.output_proj(final).reshape(batch, players, -1)
        return out


class GraphPlayerEncoder(nn.Module):
    """Node embedding (features, role, side, time, context, history), GATv2 layers with post-norm
    residuals, social pooling and a final norm."""

    def __init__(self, spec: GraphTransformerSpec) -> None:
        super().__init__()
        hidden = spec.hidden_dim
        self.embedding = nn.Linear(spec.input_dim, hidden)
        self.role_emb = nn.Embedding(NUM_ROLES, hidden)
        self.side_emb = nn.Embedding(NUM_SIDES, hidden // 2)
        self.context_encoder = nn.Linear(CONTEXT_DIM, hidden)
        self.formation_emb = nn.Embedding(NUM_FORMATIONS, hidden)
        self.alignment_emb = nn.Embedding(NUM_ALIGNMENTS, hidden)
        self.temporal_emb = nn.Embedding(NUM_TEMPORAL, hidden)
        self.gat_layers = nn.ModuleList(
            GATv2Layer(hidden, spec.heads, spec.edge_dim) for _ in range(spec.num_gnn_layers)
        )
        self.layer_norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(spec.num_gnn_layers))
        self.social_pooling = SocialPooling(hidden)
        self.history_encoder = HistoryEncoder(hidden)
        self.final_norm = nn.LayerNorm(hidden)

    def forward(
        self,
        node_features: Tensor,
        edge_attr: Tensor,
        adjacency: Tensor,
        roles: Tensor,
        sides: Tensor,
        history: Tensor,
        context: Tensor,
        formation: Tensor,
        alignment: Tensor,
        frame_t: Tensor,
    ) -> Tensor:
        hidden = self.embedding.out_features
        h = torch.relu(self.embedding(node_features)) + self.role_emb(roles)
        h = h + F.pad(self.side_emb(sides), (0, hidden - hidden // 2))
        step = (frame_t * float(NUM_TEMPORAL - 1)).to(torch.int64).clamp(0, NUM_TEMPORAL - 1)
        h = h + self.temporal_emb(step).unsqueeze(1)
        play = torch.relu(self.context_encoder(context)) + self.formation_emb(formation)
        h = h + (play + self.alignment_emb(alignment)).unsqueeze(1)
        h = h + self.history_encoder(history)
        players = h.shape[1]
        eye = torch.eye(players, dtype=torch.bool, device=h.device).unsqueeze(0)
        for gat, norm in zip(self.gat_layers, self.layer_norms, strict=True):
            h = norm(torch.relu(gat(h, edge_attr, adjacency, eye)) + h)
        h = h + self.social_pooling(h, adjacency)
        out: Tensor = self.final_norm(h)
        return out


class SceneEncoder(nn.Module):
    """Eight learned inducing points attend over the play's players; their pooled summary is the scene."""

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.inducing_points = nn.Parameter(torch.randn(NUM_INDUCING, hidden) * 0.02)
        self.cross_attention = PackedAttention(hidden, heads)
        self.pool_attention = nn.Linear(hidden, 1)
        self.output_proj = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden))

    def forward(self, h: Tensor, node_mask: Tensor) -> Tensor:
        queries = self.inducing_points.unsqueeze(0).expand(h.shape[0], -1, -1)
        attended = self.cross_attention(queries, h, node_mask)  # [B, 8, H]
        weights = torch.softmax(self.pool_attention(attended), dim=1)
        out: Tensor = self.output_proj((weights * attended).sum(1))
        return out


class DecoderLayer(nn.Module):
    """``nn.TransformerEncoderLayer`` (post-norm, ReLU) with its parameter names, as plain ops."""

    def __init__(self, hidden: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.self_attn = PackedAttention(hidden, heads)
        self.linear1 = nn.Linear(hidden, ffn)
        self.linear2 = nn.Linear(ffn, hidden)
        self.norm1 = nn.LayerNorm(hidden)
        self.norm2 = nn.LayerNorm(hidden)

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm1(x + self.self_attn(x, x))
        out: Tensor = self.norm2(x + self.linear2(torch.relu(self.linear1(x))))
        return out


class _Stack(nn.Module):
    def __init__(self, hidden: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(hidden, heads, ffn) for _ in range(DECODER_LAYERS))

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class TrajectoryDecoder(nn.Module):
    """Deterministic: one trajectory per player from learned per-frame queries."""

    def __init__(self, spec: GraphTransformerSpec) -> None:
        super().__init__()
        hidden = spec.hidden_dim
        self.pos_embedding = nn.Parameter(torch.zeros(1, POS_EMBEDDING_LEN, hidden))  # unused upstream too
        self.query_pos_emb = nn.Parameter(torch.randn(1, spec.future_seq_len, hidden) * 0.02)
        self.transformer = _Stack(hidden, spec.heads, spec.ffn)
        self.output_head = nn.Linear(hidden, 2)

    def forward(self, node: Tensor) -> Tensor:
        """node [B, P, H] -> displacements [B, P, 1, T, 2]."""
        batch, players, hidden = node.shape
        x = (node.unsqueeze(2) + self.query_pos_emb).reshape(batch * players, -1, hidden)
        out: Tensor = self.output_head(self.transformer(x)).reshape(batch, players, 1, -1, 2)
        return out


def rank_select(probs: Tensor, ranks: Tensor) -> Tensor:
    """The ids of the modes at ``ranks`` [k] when each row of ``probs`` [..., K] is sorted most likely first,
    ties by the lower id: [..., k]. Written as pairwise comparisons (K is small) because a stable sort does
    not export to ONNX and topk does not promise an order for ties."""
    modes = probs.shape[-1]
    ids = torch.arange(modes, device=probs.device)
    mine, theirs = probs.unsqueeze(-1), probs.unsqueeze(-2)  # [..., i, 1], [..., 1, j]
    ahead = (theirs > mine) | ((theirs == mine) & (ids[None, :] < ids[:, None]))  # j goes before i
    rank = ahead.to(torch.int64).sum(-1)  # [..., K]: every id's place in the order
    hits = rank.unsqueeze(-2) == ranks[:, None]  # [..., k, K]: the one id holding each wanted rank
    return hits.to(torch.int64).argmax(-1)


class ProbabilisticDecoder(nn.Module):
    """A Gaussian mixture: per mode a trajectory of (mu_x, mu_y, sigma_x, sigma_y, rho), and mode
    probabilities. The probabilities come from the node embedding alone and every (player, mode) row is
    decoded on its own, so decoding only the modes a caller wants gives exactly their values in a full
    decode, at a fraction of the cost (the decoder is almost all of the model's arithmetic)."""

    def __init__(self, spec: GraphTransformerSpec) -> None:
        super().__init__()
        hidden = spec.hidden_dim
        self.query_pos_emb = nn.Parameter(torch.randn(1, spec.future_seq_len, hidden) * 0.02)
        self.transformer = _Stack(hidden, spec.heads, spec.ffn)
        self.mode_emb = nn.Embedding(spec.num_modes, hidden)
        self.gmm_head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 5))
        self.mode_prob_head = nn.Linear(hidden, spec.num_modes)

    def decode(self, node: Tensor, mode_vectors: Tensor) -> tuple[Tensor, Tensor]:
        """node [B, P, H], mode embeddings [B, P, k, H] -> mu [B, P, k, T, 2], (sigma_x, sigma_y, rho)
        [B, P, k, T, 3]."""
        batch, players, hidden = node.shape
        frames = self.query_pos_emb.shape[1]
        queries = (node.unsqueeze(2) + mode_vectors).unsqueeze(3) + self.query_pos_emb[:, None, None]
        raw = self.gmm_head(self.transformer(queries.reshape(-1, frames, hidden)))
        raw = raw.reshape(batch, players, -1, frames, 5)
        sigma = torch.exp(raw[..., 2:4]).clamp(0.01, 10.0)
        return raw[..., 0:2], torch.cat([sigma, torch.tanh(raw[..., 4:5])], dim=-1)

    def forward(self, node: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Every mode in index order (the training project's layout): node [B, P, H] -> mu [B, P, K, T, 2],
        (sigma_x, sigma_y, rho) [B, P, K, T, 3], probs [B, P, K]."""
        batch, players, hidden = node.shape
        every = self.mode_emb.weight[None, None].expand(batch, players, -1, hidden)
        mu, spread = self.decode(node, every)
        return mu, spread, torch.softmax(self.mode_prob_head(node), dim=-1)

    def top_modes(self, node: Tensor, mode_ranks: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Only the modes at ``mode_ranks`` [k] (0 = the most likely) of each player, most likely first:
        mu [B, P, k, T, 2], spread [B, P, k, T, 3], their probabilities [B, P, k], their mode ids [B, P, k]
        and every mode's probability [B, P, K]."""
        probs = torch.softmax(self.mode_prob_head(node), dim=-1)
        index = rank_select(probs, mode_ranks)
        mu, spread = self.decode(node, self.mode_emb(index))
        return mu, spread, torch.gather(probs, -1, index), index, probs


class NFLGraphTransformer(nn.Module):
    """The training project's model on dense per-play tensors.

    ``forward`` returns ``(trajectories [B, P, M, T, 2], mode_probs [B, P, M], coverage_logit [B])`` for a
    deterministic model and ``(trajectories, mode_probs, uncertainty [B, P, M, T, 3], coverage_logit)`` for a
    probabilistic one (``full_output_names``). Given ``mode_ranks`` [k], a probabilistic model decodes only
    the modes at those ranks (M = k, most likely first) and adds ``mode_index`` [B, P, k] and
    ``all_mode_probs`` [B, P, K] (``output_names``): this is the exported form. Trajectories are
    displacements from each player's current position in yards, in the play-direction-standardized frame.
    """

    feature_contract = "nfl-graph-v1"
    #: Linear layers whose weight the forward slices: dynamic INT8 quantization (TorchScript) leaves them.
    int8_exclude = ("encoder.social_pooling.interaction_mlp.0",)

    def __init__(self, spec: GraphTransformerSpec) -> None:
        super().__init__()
        self.spec = spec
        self.encoder = GraphPlayerEncoder(spec)
        self.scene_encoder = SceneEncoder(spec.hidden_dim, spec.heads) if spec.scene_encoder else None
        self.decoder: nn.Module = (
            ProbabilisticDecoder(spec) if spec.probabilistic else TrajectoryDecoder(spec)
        )
        self.classifier = nn.Linear(spec.hidden_dim, 1)

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> NFLGraphTransformer:
        """Sized from a checkpoint's weights."""
        return cls(spec_from_state_dict(state))

    @classmethod
    def from_config(cls, params: dict[str, Any]) -> NFLGraphTransformer:
        """Sized from the training config's model keys (a fresh model, e.g. to train)."""
        return cls(
            GraphTransformerSpec(
                input_dim=params["input_dim"],
                hidden_dim=params["hidden_dim"],
                heads=params["heads"],
                num_gnn_layers=params["num_gnn_layers"],
                future_seq_len=params["future_seq_len"],
                probabilistic=params.get("probabilistic", False),
                num_modes=params.get("num_modes", 1) if params.get("probabilistic", False) else 1,
            )
        )

    @property
    def extra_inputs(self) -> tuple[str, ...]:
        """Inputs after the feature contract's: ``mode_ranks`` [k] for a probabilistic model."""
        return (MODE_RANKS,) if self.spec.probabilistic else ()

    @property
    def full_output_names(self) -> tuple[str, ...]:
        """Names of the outputs without ``mode_ranks`` (every mode, in index order)."""
        if self.spec.probabilistic:
            return ("trajectories", "mode_probs", "uncertainty", "coverage_logit")
        return ("trajectories", "mode_probs", "coverage_logit")

    @property
    def output_names(self) -> tuple[str, ...]:
        """Names of the forward's outputs, in order, as exported (with ``mode_ranks`` when probabilistic:
        the decoded modes most likely first, their ids and every mode's probability)."""
        if self.spec.probabilistic:
            return (*self.full_output_names, "mode_index", "all_mode_probs")
        return self.full_output_names

    def forward(
        self,
        node_features: Tensor,
        edge_attr: Tensor,
        adjacency: Tensor,
        roles: Tensor,
        sides: Tensor,
        history: Tensor,
        context: Tensor,
        formation: Tensor,
        alignment: Tensor,
        frame_t: Tensor,
        node_mask: Tensor,
        mode_ranks: Tensor | None = None,
        valid_mask: Tensor | None = None,
    ) -> tuple[Tensor, ...]:
        """With ``mode_ranks`` (probabilistic models) only those modes are decoded (``output_names``);
        without it every mode, in index order (``full_output_names``)."""
        valid = node_mask if valid_mask is None else valid_mask * node_mask
        h = self.encoder(
            node_features, edge_attr, adjacency, roles, sides, history, context, formation, alignment, frame_t
        )
        if self.scene_encoder is not None:
            h = h + 0.5 * self.scene_encoder(h, node_mask).unsqueeze(1)
        pooled = (h * node_mask.unsqueeze(-1)).sum(1) / node_mask.sum(1, keepdim=True).clamp(min=1.0)
        coverage = self.classifier(pooled).squeeze(-1)
        keep = valid[:, :, None, None, None]
        if isinstance(self.decoder, ProbabilisticDecoder) and mode_ranks is not None:
            mu, spread, chosen, index, probs = self.decoder.top_modes(h, mode_ranks)
            return mu * keep, chosen, spread * keep, coverage, index, probs
        if self.spec.probabilistic:
            mu, spread, probs = self.decoder(h)
            return mu * keep, probs, spread * keep, coverage
        trajectories = self.decoder(h) * keep
        return trajectories, torch.ones_like(trajectories[:, :, :, 0, 0]), coverage
