"""Utterance-level fusion heads: one pooled vector per modality and utterance.

The EmotionTalk paper (Table 3) compares TFN, LMF, MISA, MMIN and attention on utterance vectors
from frozen encoders; early concatenation and late fusion are the baselines every fusion claim
must beat. The papers' own unimodal sub-networks (LSTMs over words, CNNs over frames) are
replaced by one projection per modality, because our inputs are already pooled encoder outputs.
Blocks given as frames are pooled here (mean over each row's valid frames).

A missing modality (``present`` False) is zeroed *after* its projection, so its bias cannot leak
in as evidence, and skipped wherever the architecture has a sum or an attention to skip it from.
"""
from __future__ import annotations

import numpy as np

from ..errors import SpecError
from .train import FusionHead, _Inputs, _threads, mlp


def _nn():
    import torch
    import torch.nn as nn

    return torch, nn


def _proj(d, h, dropout):
    _, nn = _nn()
    return nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Dropout(dropout))


def _pmask(p):
    return p.float()[:, None]


# ---- early concatenation -------------------------------------------------------------------
class ConcatHead(FusionHead):
    """Early fusion: all blocks side by side, plus one presence flag per block, into an MLP.

    The baseline of every fusion table (and today's behaviour of affectbench's runs). The
    presence flags let the network tell "missing" from "all features zero after normalisation".
    ``hidden = 0`` makes it a linear layer on the concatenation.
    """

    kind = "concat"
    min_blocks = 1
    OPTIONS = {"hidden": 128}

    def _validate_options(self):
        if int(self.hidden) < 0:
            raise SpecError(f"head 'concat': hidden must be ≥ 0, got {self.hidden}")

    def _build(self, dims, k):
        torch, nn = _nn()
        d = sum(dims) + len(dims)
        h, p = int(self.hidden), float(self.dropout)
        net = nn.Linear(d, k) if h == 0 else nn.Sequential(nn.Dropout(p), mlp(d, h, k, p))

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = net

            def forward(self, xs, present, lengths):
                z = torch.cat([x * _pmask(p) for x, p in zip(xs, present)]
                              + [torch.stack([p.float() for p in present], 1)], 1)
                return {"out": self.net(z)}

        return Net()


# ---- late fusion -----------------------------------------------------------------------------
class LateHead(FusionHead):
    """Late fusion: one adapter per modality, trained on its own rows; decisions combined.

    ``late_mode = "average"``: probabilities (regression: values) averaged over the modalities
    present in the row, so a missing modality simply drops out. ``"stacked"``: per-modality
    weights on log-probabilities plus class biases, learnt on the validation fold after training
    (never on test); falls back to averaging when there is no validation fold. ``hidden = 0``
    gives linear adapters (the linear-probe protocol per modality), hence the linear head's
    learning rate 1e-2 by default (at 1e-3 they were still learning after 30 epochs).
    """

    kind = "late"
    min_blocks = 1
    OPTIONS = {"hidden": 0, "lr": 1e-2, "late_mode": "average"}

    def _validate_options(self):
        if self.late_mode not in ("average", "stacked"):
            raise SpecError(f"head 'late': late_mode must be 'average' or 'stacked', got {self.late_mode!r}")
        if int(self.hidden) < 0:
            raise SpecError(f"head 'late': hidden must be ≥ 0, got {self.hidden}")

    def _build(self, dims, k):
        torch, nn = _nn()
        h, p, reg = int(self.hidden), float(self.dropout), bool(self.regression)
        head = self

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.adapters = nn.ModuleList(nn.Linear(d, k) if h == 0 else mlp(d, h, k, p) for d in dims)

            def forward(self, xs, present, lengths):
                logits = [a(x) for a, x in zip(self.adapters, xs)]
                m = torch.stack([p.float() for p in present], 1)  # [b, M]
                if reg:
                    vals = torch.stack(logits, 1)
                    out = (vals * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1)
                elif head.stack_ is not None:
                    w, b = head.stack_
                    lp = torch.stack([torch.log_softmax(z, 1) for z in logits], 1)
                    out = (lp * (w[None, :] * m)[..., None]).sum(1) + b
                else:
                    pr = torch.stack([torch.softmax(z, 1) for z in logits], 1)
                    avg = (pr * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1)
                    none = m.sum(1, keepdim=True) == 0  # no modality at all: the uniform guess
                    avg = torch.where(none, torch.full_like(avg, 1.0 / k), avg)
                    out = torch.log(avg.clamp(min=1e-12))
                return {"out": out, "train_out": False, "modal": logits,
                        "extra": [(z, p) for z, p in zip(logits, present)]}

        self.stack_ = None
        return Net()

    def _after_fit(self, valid, yv):
        self.stack_state = None
        if self.late_mode != "stacked" or self.regression:
            return
        if valid is None:
            self.stack_state = "no validation fold: probabilities averaged"
            return
        import torch

        logits = self._forward(valid, "modal")
        lp = torch.stack([torch.log_softmax(torch.as_tensor(z), 1) for z in logits], 1)
        m = torch.stack([p.float() for p in valid.present], 1)
        Y = torch.as_tensor(np.asarray(yv, np.int64))
        a = torch.zeros(len(logits), requires_grad=True)
        b = torch.zeros(self.k, requires_grad=True)
        opt = torch.optim.LBFGS([a, b], lr=0.5, max_iter=100)

        def closure():
            opt.zero_grad()
            w = torch.nn.functional.softplus(a) / np.log(2)  # starts at weight 1 per modality
            z = (lp * (w[None, :] * m)[..., None]).sum(1) + b
            loss = torch.nn.functional.cross_entropy(z, Y, weight=self.class_weight) + 1e-3 * (b ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            self.stack_ = (torch.nn.functional.softplus(a) / np.log(2), b.detach().clone())
        self.stack_state = {n: float(v) for n, v in zip(self.names_, self.stack_[0])}

    def modality_predictions(self, blocks) -> dict:
        self._check(blocks)
        with _threads(int(self.threads)):
            logits = self._forward(_Inputs(blocks, pool=True), "modal")
        if self.regression:
            return {n: z * self.y_sd + self.y_mu for n, z in zip(self.names_, logits)}
        return {n: self._softmax(z) for n, z in zip(self.names_, logits)}

    def state(self):
        return {**super().state(), "stacking_weights": self.stack_state}


# ---- TFN -------------------------------------------------------------------------------------
class TFNHead(FusionHead):
    """Tensor Fusion Network (Zadeh et al., EMNLP 2017): the outer product of ``[h_m; 1]``.

    The appended 1 keeps every unimodal and bimodal term inside the product, which also makes
    a missing modality harmless: its ``h_m`` is zeroed and only the lower-order terms remain.
    The product grows as ``(tfn_dim + 1) ** M``, so each modality is first projected to
    ``tfn_dim`` (16 → 4913 fused features for three modalities, instead of the paper's 32–128
    sub-network widths which give up to 2 million); more than ~200 000 is refused.
    """

    kind = "tfn"
    OPTIONS = {"tfn_dim": 16}

    def _build(self, dims, k):
        torch, nn = _nn()
        t, h, p = int(self.tfn_dim), int(self.hidden), float(self.dropout)
        size = (t + 1) ** len(dims)
        if size > 200_000:
            raise SpecError(f"head 'tfn': {len(dims)} modalities at tfn_dim {t} give a {size}-wide tensor; "
                            "lower tfn_dim or use 'lmf' (its low-rank equivalent)")

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.ModuleList(_proj(d, t, p) for d in dims)
                self.post = nn.Sequential(nn.Dropout(p), nn.Linear(size, h), nn.ReLU(), nn.Dropout(p),
                                          nn.Linear(h, h), nn.ReLU(), nn.Linear(h, k))

            def forward(self, xs, present, lengths):
                b = xs[0].shape[0]
                z = torch.ones(b, 1)
                for f, x, pm in zip(self.proj, xs, present):
                    hm = torch.cat([f(x) * _pmask(pm), torch.ones(b, 1)], 1)
                    z = (z[:, :, None] * hm[:, None, :]).reshape(b, -1)
                return {"out": self.post(z)}

        return Net()


# ---- LMF -------------------------------------------------------------------------------------
class LMFHead(FusionHead):
    """Low-rank Multimodal Fusion (Liu et al., ACL 2018): TFN's weight tensor in ``rank`` factors.

    ``W · (⊗_m [h_m; 1]) = Σ_r Π_m ([h_m; 1] · W_m^(r))``, computed without building the
    product, so the cost is linear in the number of modalities. As in TFN a missing modality
    leaves only its constant 1, i.e. the factor's bias row.
    """

    kind = "lmf"
    OPTIONS = {"rank": 4}

    def _build(self, dims, k):
        torch, nn = _nn()
        h, p, r = int(self.hidden), float(self.dropout), int(self.rank)
        if r < 1:
            raise SpecError(f"head 'lmf': rank must be ≥ 1, got {r}")

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.ModuleList(_proj(d, h, p) for d in dims)
                self.factors = nn.ParameterList(
                    nn.Parameter(nn.init.xavier_normal_(torch.empty(r, h + 1, h))) for _ in dims)
                self.weights = nn.Parameter(nn.init.xavier_normal_(torch.empty(1, r)))
                self.bias = nn.Parameter(torch.zeros(h))
                self.out = nn.Sequential(nn.ReLU(), nn.Dropout(p), nn.Linear(h, k))

            def forward(self, xs, present, lengths):
                b = xs[0].shape[0]
                fused = None
                for f, W, x, pm in zip(self.proj, self.factors, xs, present):
                    hm = torch.cat([f(x) * _pmask(pm), torch.ones(b, 1)], 1)
                    part = torch.einsum("bi,rio->rbo", hm, W)
                    fused = part if fused is None else fused * part
                z = torch.einsum("r,rbo->bo", self.weights[0], fused) + self.bias
                return {"out": self.out(z)}

        return Net()


# ---- MISA ------------------------------------------------------------------------------------
def _cmd(x1, x2, moments: int = 5):
    """Central moment discrepancy (Zellinger et al. 2017), MISA's similarity loss."""
    m1, m2 = x1.mean(0), x2.mean(0)
    s1, s2 = x1 - m1, x2 - m2
    loss = (m1 - m2).norm()
    for k in range(2, moments + 1):
        loss = loss + ((s1 ** k).mean(0) - (s2 ** k).mean(0)).norm()
    return loss


def _diff(a, b):
    """MISA's soft orthogonality: squared Frobenius norm of the (centred, unit-row) correlation."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    a = a / (a.norm(dim=1, keepdim=True) + 1e-6)
    b = b / (b.norm(dim=1, keepdim=True) + 1e-6)
    return ((a.t() @ b) ** 2).mean()


class MISAHead(FusionHead):
    """MISA (Hazarika et al., ACM MM 2020): modality-invariant and -specific subspaces.

    Each modality's vector is projected, then split by a shared encoder (the same weights for all
    modalities, pulled together by CMD or MSE: ``misa_similarity``) and a private one per
    modality (pushed orthogonal to the shared part and to each other); a decoder reconstructs
    the projection from shared + private. The 2M vectors go through one transformer layer and
    are concatenated for the classifier. Losses only use rows where the modality is present;
    missing modalities are masked out of the transformer's attention and zeroed.
    """

    kind = "misa"
    OPTIONS = {"misa_similarity": "cmd", "sim_weight": 1.0, "diff_weight": 0.3, "recon_weight": 1.0,
               "heads": 2}

    def _validate_options(self):
        super()._validate_options()
        if self.misa_similarity not in ("cmd", "mse"):
            raise SpecError(f"head 'misa': misa_similarity must be 'cmd' or 'mse', got {self.misa_similarity!r}")
        if int(self.hidden) % int(self.heads):
            raise SpecError(f"head 'misa': hidden ({self.hidden}) must be divisible by heads ({self.heads})")

    def _build(self, dims, k):
        torch, nn = _nn()
        h, p, M = int(self.hidden), float(self.dropout), len(dims)
        o = self

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.ModuleList(nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.LayerNorm(h)) for d in dims)
                self.shared = nn.Sequential(nn.Linear(h, h), nn.Sigmoid())
                self.private = nn.ModuleList(nn.Sequential(nn.Linear(h, h), nn.Sigmoid()) for _ in dims)
                self.recon = nn.ModuleList(nn.Linear(h, h) for _ in dims)
                self.fusion = nn.TransformerEncoderLayer(h, int(o.heads), dim_feedforward=2 * h, dropout=p,
                                                         batch_first=True)
                self.out = nn.Sequential(nn.Linear(2 * M * h, h), nn.ReLU(), nn.Dropout(p), nn.Linear(h, k))

            def forward(self, xs, present, lengths):
                us = [f(x) for f, x in zip(self.proj, xs)]
                cs = [self.shared(u) for u in us]
                ps = [f(u) for f, u in zip(self.private, us)]
                aux = 0.0
                if self.training:
                    sim, dif, rec = 0.0, 0.0, 0.0
                    for i in range(M):
                        pi = present[i]
                        if pi.sum() >= 2:
                            dif = dif + _diff(cs[i][pi], ps[i][pi])
                            r = self.recon[i](cs[i] + ps[i])
                            rec = rec + ((r - us[i]) ** 2).mean(1)[pi].mean()
                        for j in range(i + 1, M):
                            both = pi & present[j]
                            if both.sum() >= 2:
                                sim = sim + (_cmd(cs[i][both], cs[j][both]) if o.misa_similarity == "cmd"
                                             else ((cs[i][both] - cs[j][both]) ** 2).mean())
                                dif = dif + _diff(ps[i][both], ps[j][both])
                    aux = o.sim_weight * sim + o.diff_weight * dif + o.recon_weight * rec
                pm = torch.stack(present * 2, 1)  # [b, 2M]: private tokens then shared tokens
                tok = torch.stack(ps + cs, 1) * pm[..., None].float()
                pad = ~pm
                empty = pad.all(1)
                pad = pad.clone()
                pad[empty] = False
                z = self.fusion(tok, src_key_padding_mask=pad) * pm[..., None].float()
                res = {"out": self.out(z.reshape(z.shape[0], -1))}
                if self.training:
                    res["aux"] = aux if torch.is_tensor(aux) else torch.zeros(())
                return res

        return Net()


# ---- MMIN ------------------------------------------------------------------------------------
class MMINHead(FusionHead):
    """Missing Modality Imagination Network (Zhao et al., ACL 2021).

    Per-modality encoders give ``h_m``; their concatenation, with the missing ones zeroed, goes
    through a cascaded residual autoencoder (CRA: each autoencoder refines the sum of the
    previous outputs) that *imagines* the full concatenation; a second CRA imagines the
    available modalities back from the imagined missing ones (the cycle). The classifier reads
    the autoencoders' latent vectors. Training drops modalities at random (``mmin_drop``: the
    share of rows that lose a random non-empty subset of their present modalities, at least one
    kept), standing in for the paper's six fixed missing conditions; imagination losses are
    computed only against modalities that really exist. Simplified for CPU: the teacher
    representations come from the jointly trained encoders with gradients stopped, instead of a
    separately pre-trained full-modality model.
    """

    kind = "mmin"
    OPTIONS = {"mmin_blocks": 2, "mmin_drop": 0.5, "imagine_weight": 1.0, "cycle_weight": 0.5}

    def modality_predictions(self, blocks) -> dict:
        """Each modality alone, the others imagined: what MMIN was trained to do."""
        from .blocks import Block

        self._check(blocks)
        out = {}
        for i, b in enumerate(blocks):
            alone = [x if j == i else Block(x.name, x.modality, x.X, np.zeros(len(x), bool), x.lengths)
                     for j, x in enumerate(blocks)]
            out[b.name] = self.predict_proba(alone)
        return out

    def _build(self, dims, k):
        torch, nn = _nn()
        h, p, M, R = int(self.hidden), float(self.dropout), len(dims), int(self.mmin_blocks)
        o = self
        D = M * h
        lat = max(h // 2, 8)

        class AE(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Sequential(nn.Linear(D, h), nn.ReLU(), nn.Linear(h, lat), nn.ReLU())
                self.dec = nn.Sequential(nn.Linear(lat, h), nn.ReLU(), nn.Linear(h, D))

            def forward(self, x):
                z = self.enc(x)
                return self.dec(z), z

        class CRA(nn.Module):
            def __init__(self):
                super().__init__()
                self.aes = nn.ModuleList(AE() for _ in range(R))

            def forward(self, x):
                acc, lats = torch.zeros_like(x), []
                for ae in self.aes:
                    d, z = ae(x + acc)
                    acc = acc + d
                    lats.append(z)
                return x + acc, lats

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.ModuleList(_proj(d, h, p) for d in dims)
                self.fwd = CRA()
                self.bwd = CRA()
                self.out = nn.Sequential(nn.Linear(R * lat, h), nn.ReLU(), nn.Dropout(p), nn.Linear(h, k))

            def forward(self, xs, present, lengths):
                hs = torch.stack([f(x) for f, x in zip(self.enc, xs)], 1)  # [b, M, h]
                real = torch.stack(present, 1)  # [b, M]
                avail = real
                if self.training and o.mmin_drop > 0:
                    b = real.shape[0]
                    drop_row = torch.rand(b, generator=self.gen) < float(o.mmin_drop)
                    keep = torch.rand(b, M, generator=self.gen) < 0.5
                    # at least one present modality survives: the first present one by a random order
                    order = torch.rand(b, M, generator=self.gen).masked_fill(~real, 2.0)
                    keep[torch.arange(b), order.argmin(1)] = True
                    avail = torch.where(drop_row[:, None], real & keep, real)
                af = avail[..., None].float()
                x = (hs * af).reshape(hs.shape[0], -1)
                full, lats = self.fwd(x)
                res = {"out": self.out(torch.cat(lats, 1))}
                if self.training:
                    target = hs.detach()
                    full3 = full.reshape_as(hs)
                    miss = (real & ~avail)[..., None].float()  # dropped but known: imagination targets
                    imagine = (((full3 - target) ** 2) * miss).sum() / (miss.sum() * h).clamp(min=1)
                    back, _ = self.bwd((full3 * (1 - af)).reshape_as(x))
                    back3 = back.reshape_as(hs)
                    cyc = (((back3 - target) ** 2) * af).sum() / (af.sum() * h).clamp(min=1)
                    res["aux"] = o.imagine_weight * imagine + o.cycle_weight * cyc
                return res

        return Net()


# ---- cross-modal attention -------------------------------------------------------------------
class AttentionHead(FusionHead):
    """Cross-modal attention over modality vectors (the "Attention" row of EmotionTalk Table 3).

    Each modality's vector becomes a token (projection + a learnt modality embedding); one
    multi-head attention layer lets every modality attend to the others, and an attention pool
    weighs the tokens. Missing modalities are masked out of both attentions, so the weights
    renormalise over what is present.
    """

    kind = "attention"
    OPTIONS = {"heads": 4}

    def _validate_options(self):
        super()._validate_options()
        if int(self.hidden) % int(self.heads):
            raise SpecError(f"head 'attention': hidden ({self.hidden}) must be divisible by heads ({self.heads})")

    def _build(self, dims, k):
        torch, nn = _nn()
        h, p, M = int(self.hidden), float(self.dropout), len(dims)
        heads = int(self.heads)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.ModuleList(nn.Linear(d, h) for d in dims)
                self.emb = nn.Parameter(torch.zeros(M, h))
                self.attn = nn.MultiheadAttention(h, heads, dropout=p, batch_first=True)
                self.ln1, self.ln2 = nn.LayerNorm(h), nn.LayerNorm(h)
                self.ff = nn.Sequential(nn.Linear(h, 2 * h), nn.ReLU(), nn.Dropout(p), nn.Linear(2 * h, h))
                self.score = nn.Linear(h, 1)
                self.out = nn.Sequential(nn.Dropout(p), nn.Linear(h, h), nn.ReLU(), nn.Dropout(p), nn.Linear(h, k))

            def forward(self, xs, present, lengths):
                pm = torch.stack(present, 1)
                tok = torch.stack([f(x) for f, x in zip(self.proj, xs)], 1) + self.emb
                tok = tok * pm[..., None].float()
                pad = ~pm
                empty = pad.all(1)
                pad = pad.clone()
                pad[empty] = False
                a, _ = self.attn(tok, tok, tok, key_padding_mask=pad, need_weights=False)
                z = self.ln1(tok + a)
                z = self.ln2(z + self.ff(z))
                s = self.score(z)[..., 0].masked_fill(pad, float("-inf"))
                w = torch.softmax(s, 1)
                pooled = (w[..., None] * z).sum(1) * (~empty)[:, None].float()
                return {"out": self.out(pooled)}

        return Net()
