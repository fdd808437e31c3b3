"""Frame-level fusion heads: each modality a sequence ``[n, t, d]`` with per-row ``lengths``.

The EmotionTalk paper (Table 3) runs MulT, MFN, Graph-MFN, MFM and MCTN on frame sequences from
frozen encoders. All honour ``lengths``: MulT and MFM mask or pack padded frames; MFN,
Graph-MFN and MCTN, written for word-aligned sequences (one shared time axis), resample each
row's *valid* frames to ``steps`` positions by relative position (``train.align``), since
encoder frames of different modalities come at different rates. A missing modality has length
0 and is zeroed after its encoder; attention skips it.

Sizes are CPU-sized (hidden 32–64, one or two layers, ``steps`` 20); the paper grids use
64–256 (EmotionTalk Table 10).
"""
from __future__ import annotations

from ..errors import SpecError
from .train import FusionHead, align, combos, masked_mean, mlp, sinusoid


def _nn():
    import torch
    import torch.nn as nn

    return torch, nn


def _pm(p):
    return p.float()[:, None]


class _FrameHead(FusionHead):
    needs_sequences = True

    def _validate_options(self):
        super()._validate_options()
        if "steps" in self.options and int(self.steps) < 1:
            raise SpecError(f"head '{self.kind}': steps must be ≥ 1, got {self.steps}")
        if "heads" in self.options and int(self.hidden) % int(self.heads):
            raise SpecError(f"head '{self.kind}': hidden ({self.hidden}) must be divisible by heads ({self.heads})")

    def _aligned(self, xs, lengths):
        t = min(int(self.steps), max(x.shape[1] for x in xs))
        return [align(x, ln, t) for x, ln in zip(xs, lengths)], t


# ---- MulT ------------------------------------------------------------------------------------
def frame_pool(x, lengths, p: int):
    """Average each run of ``p`` frames (only valid ones), so attention costs ``p**2`` less."""
    import torch
    import torch.nn.functional as F

    if p <= 1:
        return x, lengths
    b, t, d = x.shape
    tp = -(-t // p)
    x = F.pad(x, (0, 0, 0, tp * p - t))
    valid = (torch.arange(tp * p)[None, :] < lengths[:, None]).to(x.dtype)
    s = (x * valid[..., None]).reshape(b, tp, p, d).sum(2)
    c = valid.reshape(b, tp, p).sum(2)
    return s / c.clamp(min=1)[..., None], (lengths + p - 1) // p


class MulTHead(_FrameHead):
    """Multimodal Transformer (Tsai et al., ACL 2019): crossmodal attention, no alignment needed.

    Each modality is projected (1×1 convolution) to ``hidden`` with sinusoidal positions; for
    every target modality, one crossmodal transformer per source (``layers`` layers, queries from
    the target, keys/values from the source, padded source frames masked) is concatenated and
    passed through a self-attention layer, then pooled over the target's valid frames. The paper
    takes the last time step; we take the masked mean, which does not depend on where padding
    starts. A missing source contributes nothing (its attention output is zeroed); a missing
    target's vector is zeroed. For CPU, ``pool`` first averages runs of valid frames (2: 50
    frames → 25), which cuts the attention cost fourfold and the rest by half; one layer per
    crossmodal transformer (the paper: 4–5) and ``hidden`` 16 (the paper: 30–40; 32 took 2x as
    long, 119 s an epoch of 15,400 rows on a loaded two-core machine).
    """

    kind = "mult"
    OPTIONS = {"hidden": 16, "heads": 2, "layers": 1, "pool": 2}

    def _build(self, dims, k):
        torch, nn = _nn()
        h, p, M = int(self.hidden), float(self.dropout), len(dims)
        heads, L = int(self.heads), int(self.layers)
        head = self

        class Cross(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.lq, self.lkv, self.lf = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
                self.attn = nn.MultiheadAttention(d, heads, dropout=p, batch_first=True)
                self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Dropout(p), nn.Linear(2 * d, d))
                self.drop = nn.Dropout(p)

            def forward(self, x, src, pad, empty):
                kv = self.lkv(src)
                a, _ = self.attn(self.lq(x), kv, kv, key_padding_mask=pad, need_weights=False)
                x = x + self.drop(a) * (~empty)[:, None, None].float()
                return x + self.drop(self.ff(self.lf(x)))

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.ModuleList(nn.Conv1d(d, h, 1, bias=False) for d in dims)
                self.cross = nn.ModuleList(
                    nn.ModuleList(nn.ModuleList(Cross(h) for _ in range(L)) for s in range(M) if s != m)
                    for m in range(M))
                self.selfs = nn.ModuleList(nn.ModuleList(Cross(h * (M - 1)) for _ in range(max(L - 1, 1)))
                                           for _ in range(M))
                D = M * (M - 1) * h
                self.p1, self.p2 = nn.Linear(D, D), nn.Linear(D, D)
                self.out = nn.Linear(D, k)
                self.drop = nn.Dropout(p)

            def forward(self, xs, present, lengths):
                pooled = [frame_pool(x, ln, int(head.pool)) for x, ln in zip(xs, lengths)]
                xs, lengths = [q[0] for q in pooled], [q[1] for q in pooled]
                seqs, pads = [], []
                for f, x, ln in zip(self.proj, xs, lengths):
                    t = x.shape[1]
                    z = f(x.transpose(1, 2)).transpose(1, 2) * (h ** 0.5) + sinusoid(t, h)
                    seqs.append(self.drop(z))
                    pad = torch.arange(t)[None, :] >= ln[:, None]
                    empty = pad.all(1)
                    pad = pad.clone()
                    pad[empty, 0] = False  # a fully masked row gives NaN; its output is zeroed instead
                    pads.append((pad, empty))
                reps = []
                for m in range(M):
                    outs, j = [], 0
                    for s in range(M):
                        if s == m:
                            continue
                        z = seqs[m]
                        for layer in self.cross[m][j]:
                            z = layer(z, seqs[s], *pads[s])
                        outs.append(z)
                        j += 1
                    z = torch.cat(outs, 2)
                    for layer in self.selfs[m]:
                        z = layer(z, z, *pads[m])
                    reps.append(masked_mean(z, lengths[m]) * _pm(present[m]))
                r = torch.cat(reps, 1)
                r = r + self.p2(self.drop(torch.relu(self.p1(r))))
                return {"out": self.out(r)}

        return Net()


# ---- MFN and Graph-MFN -----------------------------------------------------------------------
class MFNHead(_FrameHead):
    """Memory Fusion Network (Zadeh et al., AAAI 2018).

    One LSTM per modality steps through the aligned sequence; at each step the Delta-memory
    Attention Network looks at every LSTM's memory before and after the step (``[c_{t-1}; c_t]``)
    and attends over its dimensions; a Multi-view Gated Memory ``u`` keeps a gated blend of its
    past and the attended cross-modal update. The classifier reads the last LSTM states and
    ``u``. A missing modality's LSTM state is held at zero.
    """

    kind = "mfn"
    OPTIONS = {"hidden": 32, "steps": 20, "memory": 32}

    def _fuse_module(self, M, h):
        torch, nn = _nn()
        p = float(self.dropout)

        class DMAN(nn.Module):
            def __init__(self):
                super().__init__()
                self.att = mlp(2 * M * h, h, 2 * M * h, p)
                self.d = 2 * M * h

            def forward(self, prev, cur, present):
                cstar = torch.cat(prev + cur, 1)
                return cstar * torch.softmax(self.att(cstar), 1)

        return DMAN()

    def _build(self, dims, k):
        torch, nn = _nn()
        h, p, M, mem = int(self.hidden), float(self.dropout), len(dims), int(self.memory)
        head = self

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.cells = nn.ModuleList(nn.LSTMCell(d, h) for d in dims)
                self.fuse = head._fuse_module(M, h)
                dv = self.fuse.d
                self.uhat = nn.Sequential(mlp(dv, h, mem, p), nn.Tanh())
                self.g1 = nn.Sequential(mlp(dv + mem, h, mem, p), nn.Sigmoid())
                self.g2 = nn.Sequential(mlp(dv + mem, h, mem, p), nn.Sigmoid())
                self.out = mlp(M * h + mem, h, k, p)

            def forward(self, xs, present, lengths):
                xs, T = head._aligned(xs, lengths)
                b = xs[0].shape[0]
                pm = [_pm(q) for q in present]
                hs = [torch.zeros(b, h) for _ in range(M)]
                cs = [torch.zeros(b, h) for _ in range(M)]
                u = torch.zeros(b, mem)
                for t in range(T):
                    new = [cell(x[:, t], (hh, cc)) for cell, x, hh, cc in zip(self.cells, xs, hs, cs)]
                    nh = [n[0] * q for n, q in zip(new, pm)]
                    nc = [n[1] * q for n, q in zip(new, pm)]
                    att = self.fuse(cs, nc, present)
                    both = torch.cat([att, u], 1)
                    u = self.g1(both) * u + self.g2(both) * self.uhat(att)
                    hs, cs = nh, nc
                return {"out": self.out(torch.cat(hs + [u], 1))}

        return Net()


class GraphMFNHead(MFNHead):
    """Graph Memory Fusion Network (Zadeh et al., ACL 2018, the CMU-MOSEI paper).

    MFN with its attention replaced by the Dynamic Fusion Graph: one vertex per non-empty subset
    of modalities (7 for three); a unimodal vertex reads that LSTM's ``[c_{t-1}; c_t]``, a higher
    vertex is an MLP over its proper sub-vertices, each scaled by an efficacy in (0, 1) that a
    small network computes from all unimodal inputs at this step. All vertices feed the gated
    memory. A missing modality's unimodal vertex is zero, so it carries nothing upward.
    """

    kind = "graph_mfn"

    def _fuse_module(self, M, h):
        torch, nn = _nn()
        p = float(self.dropout)
        if M > 5:
            raise SpecError(f"head 'graph_mfn': {M} modalities give {2 ** M - 1} graph vertices; at most 5 modalities")
        subsets = combos(M)
        dv = h
        edges = {S: [T for T in subsets if len(T) < len(S) and set(T) < set(S)] for S in subsets if len(S) > 1}
        n_edges = sum(len(v) for v in edges.values())

        class DFG(nn.Module):
            def __init__(self):
                super().__init__()
                self.uni = nn.ModuleList(nn.Sequential(nn.Linear(2 * h, dv), nn.ReLU()) for _ in range(M))
                self.vert = nn.ModuleDict({"".join(map(str, S)): nn.Sequential(
                    nn.Linear(len(ts) * dv, dv), nn.ReLU(), nn.Dropout(p)) for S, ts in edges.items()})
                self.eff = nn.Sequential(nn.Linear(2 * M * h, h), nn.ReLU(), nn.Linear(h, n_edges), nn.Sigmoid())
                self.d = len(subsets) * dv

            def forward(self, prev, cur, present):
                v = {(m,): f(torch.cat([prev[m], cur[m]], 1)) * _pm(present[m]) for m, f in enumerate(self.uni)}
                alpha = self.eff(torch.cat(prev + cur, 1))
                e = 0
                for S, ts in edges.items():
                    ins = []
                    for T in ts:
                        ins.append(v[T] * alpha[:, e:e + 1])
                        e += 1
                    v[S] = self.vert["".join(map(str, S))](torch.cat(ins, 1))
                return torch.cat([v[S] for S in subsets], 1)

        return DFG()


# ---- MFM -------------------------------------------------------------------------------------
def _mmd(z, gen):
    """Maximum mean discrepancy between ``z`` and N(0, I) (Gaussian kernel), MFM's prior match."""
    import torch

    if z.shape[0] < 2:
        return torch.zeros(())
    prior = torch.randn(z.shape, generator=gen)
    d = z.shape[1]

    def k(a, b):
        return torch.exp(-torch.cdist(a, b) ** 2 / (2.0 * d))

    return k(z, z).mean() + k(prior, prior).mean() - 2 * k(z, prior).mean()


class MFMHead(_FrameHead):
    """Multimodal Factorization Model (Tsai et al., ICLR 2019).

    The representation is factorised into one multimodal *discriminative* factor (from all
    modalities' encoders; it alone predicts the label) and one *generative* factor per modality;
    each modality is reconstructed by a decoder from the discriminative factor plus its own
    generative factor, and every factor is pulled towards N(0, I) by MMD (a Wasserstein
    autoencoder). Simplified for CPU: the encoders are LSTMs over each modality's own valid frames
    (packed, no alignment needed) and the decoders reconstruct the modality's mean frame rather
    than the whole sequence.
    """

    kind = "mfm"
    OPTIONS = {"hidden": 32, "recon_weight": 1.0, "mmd_weight": 0.5}

    def _build(self, dims, k):
        torch, nn = _nn()
        h, p, M = int(self.hidden), float(self.dropout), len(dims)
        za = max(h // 2, 4)
        head = self
        from torch.nn.utils.rnn import pack_padded_sequence

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.ModuleList(nn.LSTM(d, h, batch_first=True) for d in dims)
                self.zy = mlp(M * h, h, h, p)
                self.za = nn.ModuleList(nn.Linear(h, za) for _ in dims)
                self.dec = nn.ModuleList(mlp(h + za, h, d, p) for d in dims)
                self.out = mlp(h, h, k, p)

            def forward(self, xs, present, lengths):
                hs = []
                for lstm, x, ln, q in zip(self.enc, xs, lengths, present):
                    packed = pack_padded_sequence(x, ln.clamp(min=1), batch_first=True, enforce_sorted=False)
                    _, (hn, _) = lstm(packed)
                    hs.append(hn[-1] * _pm(q))
                zy = self.zy(torch.cat(hs, 1))
                res = {"out": self.out(zy)}
                if self.training:
                    rec, mmd = 0.0, _mmd(zy, self.gen)
                    for i in range(M):
                        q = present[i]
                        if q.sum() < 2:
                            continue
                        za_i = self.za[i](hs[i])
                        target = masked_mean(xs[i], lengths[i])
                        r = self.dec[i](torch.cat([zy, za_i], 1))
                        rec = rec + ((r - target) ** 2).mean(1)[q].mean()
                        mmd = mmd + _mmd(za_i[q], self.gen)
                    res["aux"] = head.recon_weight * rec + head.mmd_weight * mmd
                return res

        return Net()


# ---- MCTN ------------------------------------------------------------------------------------
class MCTNHead(_FrameHead):
    """Multimodal Cyclic Translation Network (Pham et al., AAAI 2019).

    A sequence-to-sequence encoder translates the *source* modality (``mctn_source``: a block
    name; default the first block) into the second modality, and the translation back into the
    source (the cycle, with the same encoder); a second encoder-decoder translates the first
    encoder's states into the third modality, and so on (the hierarchical MCTN). The last
    encoder's final state is the joint representation the classifier reads. Only the source is
    read at test time, by design: the other modalities shape the representation through the
    translation losses during training, so MCTN is robust to them being missing and cannot use
    evidence in them that the source does not predict. Simplified for CPU: the decoders run
    over the (aligned) encoder states instead of decoding autoregressively.
    """

    kind = "mctn"
    OPTIONS = {"hidden": 32, "steps": 20, "mctn_source": "", "trans_weight": 1.0, "cycle_weight": 0.5}

    def fit(self, blocks, y, valid_blocks=None, y_valid=None, n_classes=None):
        names = [b.name for b in blocks] if isinstance(blocks, (list, tuple)) else []
        if self.mctn_source and self.mctn_source not in names:
            raise SpecError(f"head 'mctn': mctn_source '{self.mctn_source}' is not a block "
                            f"(blocks: {', '.join(names)})")
        return super().fit(blocks, y, valid_blocks, y_valid, n_classes)

    def _build(self, dims, k):
        torch, nn = _nn()
        h, p, M = int(self.hidden), float(self.dropout), len(dims)
        src = self.names_.index(self.mctn_source) if self.mctn_source else 0
        order = [src] + [i for i in range(M) if i != src]
        head = self

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.inp = nn.ModuleList(nn.Linear(d, h) for d in dims)
                self.encs = nn.ModuleList(nn.GRU(h, h, batch_first=True) for _ in range(M - 1))
                self.decs = nn.ModuleList(nn.GRU(h, h, batch_first=True) for _ in range(M - 1))
                self.outs = nn.ModuleList(nn.Linear(h, dims[order[j + 1]]) for j in range(M - 1))
                self.back = nn.GRU(h, h, batch_first=True)
                self.back_out = nn.Linear(h, dims[src])
                self.out = mlp(h, h, k, p)
                self.drop = nn.Dropout(p)

            def forward(self, xs, present, lengths):
                al, _ = head._aligned(xs, lengths)
                x = self.drop(self.inp[src](al[src]))
                aux = 0.0
                states = None
                for j in range(M - 1):
                    o, hn = self.encs[j](x)
                    states = hn
                    if self.training:
                        tgt = order[j + 1]
                        d, _ = self.decs[j](o, hn)
                        trans = self.outs[j](d)
                        q = present[tgt]
                        if q.any():
                            aux = aux + head.trans_weight * ((trans - al[tgt]) ** 2).mean((1, 2))[q].mean()
                        if j == 0 and present[src].any():
                            # the cycle: the translation, re-encoded by the same encoder, decoded back
                            o2, h2 = self.encs[0](self.inp[tgt](trans))
                            d2, _ = self.back(o2, h2)
                            cyc = ((self.back_out(d2) - al[src]) ** 2).mean((1, 2))[present[src]].mean()
                            aux = aux + head.cycle_weight * cyc
                    x = o
                res = {"out": self.out(states[-1])}
                if self.training:
                    res["aux"] = aux if torch.is_tensor(aux) else torch.zeros(())
                return res

        return Net()
