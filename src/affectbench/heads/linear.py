"""The linear-classifier adapter: one ``nn.Linear`` on frozen features.

Trained with AdamW on cross-entropy (optionally class-balanced), early-stopped
on validation UAR (multi-label: macro-F1; regression: mean CCC), best weights
restored. Every random
choice draws from generators seeded by ``seed``, so a seed gives the same
numbers. Multi-label (GoEmotions) uses sigmoid outputs and a decision
threshold chosen on the validation set: one for all classes or one per class.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _dense(X, idx=None):
    part = X if idx is None else X[idx]
    return part.toarray() if sp.issparse(part) else part


def _uar(y, p, k):
    rec = [np.mean(p[y == c] == c) for c in range(k) if np.any(y == c)]
    return float(np.mean(rec)) if rec else 0.0


def _macro_f1(Y, P):
    tp = (Y & P).sum(0)
    denom = Y.sum(0) + P.sum(0)
    return float(np.mean(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)))


class AdamW:
    """AdamW (Loshchilov & Hutter), the same update as ``torch.optim.AdamW``.

    Written out because ``torch.optim`` imports ``torch._dynamo`` on first use (about 1 s of a
    run's start-up) and its per-step bookkeeping outweighs the arithmetic for a linear layer.
    ``groups``: ``[(params, weight_decay), ...]``.
    """

    def __init__(self, groups, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        import torch

        self.groups = [(list(ps), wd) for ps, wd in groups]
        self.lr, (self.b1, self.b2), self.eps, self.t = lr, betas, eps, 0
        self.state = {id(p): (torch.zeros_like(p), torch.zeros_like(p))
                      for ps, _ in self.groups for p in ps}

    def zero_grad(self):
        for ps, _ in self.groups:
            for p in ps:
                p.grad = None

    def step(self):
        import math

        import torch

        self.t += 1
        bc1 = 1 - self.b1 ** self.t
        bc2_sqrt = math.sqrt(1 - self.b2 ** self.t)
        with torch.no_grad():
            for ps, wd in self.groups:
                for p in ps:
                    if p.grad is None:
                        continue
                    m, v = self.state[id(p)]
                    if wd:
                        p.mul_(1 - self.lr * wd)  # decoupled weight decay
                    m.lerp_(p.grad, 1 - self.b1)
                    v.mul_(self.b2).addcmul_(p.grad, p.grad, value=1 - self.b2)
                    denom = (v.sqrt() / bc2_sqrt).add_(self.eps)
                    p.addcdiv_(m, denom, value=-self.lr / bc1)


class LinearAdapter:
    def __init__(self, *, epochs: int = 100, lr: float = 1e-2, weight_decay: float = 0.1,
                 batch_size: int = 128, patience: int = 20, class_balanced: bool = False,
                 multilabel: bool = False, threshold: str = "per_class", seed: int = 0,
                 regression: bool = False):
        self.epochs, self.lr, self.wd = epochs, lr, weight_decay
        self.batch_size, self.patience = batch_size, patience
        self.class_balanced, self.multilabel = class_balanced, multilabel
        self.threshold, self.seed = threshold, seed
        self.regression = regression
        self.history: list[dict] = []

    def fit(self, X, y, Xv=None, yv=None, n_classes: int | None = None):
        import torch

        # A linear layer on a few hundred features is far too small to gain from intra-op
        # threads; their synchronisation made training 10x slower on a busy 2-core machine.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._fit(X, y, Xv, yv, n_classes)
        finally:
            torch.set_num_threads(threads)

    def _build(self, d: int, k: int):
        """The module and its parameter groups (params, weight decay); subclasses swap the module."""
        import torch

        model = torch.nn.Linear(d, k)
        return model, [(list(model.parameters()), self.wd)]

    def _check_input(self, X) -> None:
        """Refuse inputs this head cannot take, before training (the weighted head checks shape)."""

    def _fit(self, X, y, Xv, yv, n_classes):
        import torch

        self._check_input(X)
        if Xv is not None and Xv.shape[0] > 0:
            self._check_input(Xv)
        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        d = X.shape[1]
        k = n_classes or (y.shape[1] if (self.multilabel or self.regression) else int(y.max()) + 1)
        self.k = k
        self.model, groups = self._build(d, k)
        opt = AdamW(groups, lr=self.lr)
        if self.regression:
            y = np.asarray(y, np.float32).reshape(len(y), -1)
            # targets are standardised for training and mapped back in decision()
            self.y_mu, self.y_sd = y.mean(0), np.maximum(y.std(0), 1e-6)
            Y = torch.as_tensor((y - self.y_mu) / self.y_sd)
            loss_fn = torch.nn.MSELoss()
        elif self.multilabel:
            Y = torch.as_tensor(np.asarray(y, np.float32))
            pos = Y.mean(0).clamp(min=1e-4)
            pw = ((1 - pos) / pos).sqrt() if self.class_balanced else None
            loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pw)
        else:
            Y = torch.as_tensor(np.asarray(y, np.int64))
            w = None
            if self.class_balanced:
                counts = np.bincount(y, minlength=k).astype(np.float32)
                w = torch.as_tensor(np.where(counts > 0, len(y) / (k * np.maximum(counts, 1)), 0.0),
                                    dtype=torch.float32)
            loss_fn = torch.nn.CrossEntropyLoss(weight=w)
        dense = not sp.issparse(X)
        Xt = torch.as_tensor(np.asarray(X, np.float32)) if dense else None
        n = X.shape[0]
        has_valid = Xv is not None and Xv.shape[0] > 0
        best, best_state, since, epoch = -np.inf, None, 0, -1
        for epoch in range(self.epochs):
            self.model.train()
            perm = torch.randperm(n, generator=gen)
            for s in range(0, n, self.batch_size):
                b = perm[s:s + self.batch_size]
                xb = Xt[b] if dense else torch.as_tensor(_dense(X, b.numpy()), dtype=torch.float32)
                loss = loss_fn(self.model(xb), Y[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
            if not has_valid:
                continue
            score = self._valid_score(Xv, yv)
            self.history.append({"epoch": epoch, "valid": score})
            if score > best + 1e-6:
                best, since = score, 0
                best_state = {kk: v.detach().clone() for kk, v in self.model.state_dict().items()}
            else:
                since += 1
                if since >= self.patience:
                    break
        if best_state is not None:
            self.model.load_state_dict(best_state)
        self.best_valid = float(best) if has_valid else None
        self.epochs_run = epoch + 1
        if self.multilabel:
            self._choose_thresholds(Xv if has_valid else X, yv if has_valid else y)
        return self

    def _valid_score(self, Xv, yv):
        p = self.decision(Xv)
        if self.regression:
            from ..metrics import _ccc_pearson

            ccc, _ = _ccc_pearson(np.asarray(yv, np.float64).reshape(len(yv), -1), p.astype(np.float64))
            return float(np.nan_to_num(ccc).mean())
        if self.multilabel:
            return _macro_f1(np.asarray(yv, bool), p > 0)
        return _uar(np.asarray(yv), p.argmax(1), self.k)

    def decision(self, X) -> np.ndarray:
        import torch

        self.model.eval()
        outs = []
        with torch.inference_mode():
            for s in range(0, X.shape[0], 8192):
                xb = torch.as_tensor(_dense(X[s:s + 8192]), dtype=torch.float32)
                outs.append(self.model(xb).numpy())
        z = np.concatenate(outs) if outs else np.zeros((0, self.k), np.float32)
        return z * self.y_sd + self.y_mu if self.regression else z

    def predict_proba(self, X) -> np.ndarray:
        z = self.decision(X)
        if self.regression:
            return z
        if self.multilabel:
            return 1 / (1 + np.exp(-z))
        z = z - z.max(1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(1, keepdims=True)

    def _choose_thresholds(self, X, Y):
        """Thresholds chosen on validation data (never test): global, or per class."""
        P = self.predict_proba(X)
        Y = np.asarray(Y, bool)
        grid = np.round(np.arange(0.05, 0.96, 0.05), 2)
        scores = np.array([_macro_f1(Y, P >= t) for t in grid])
        t_global = float(grid[int(scores.argmax())])
        if self.threshold == "global":
            self.thresholds = np.full(P.shape[1], t_global)
            return
        th = np.empty(P.shape[1])
        for j in range(P.shape[1]):
            f = []
            for t in grid:
                pj = P[:, j] >= t
                tp = (pj & Y[:, j]).sum()
                denom = pj.sum() + Y[:, j].sum()
                f.append(2 * tp / denom if denom else 0.0)
            th[j] = grid[int(np.argmax(f))] if max(f) > 0 else t_global
        self.thresholds = th

    def predict(self, X) -> np.ndarray:
        return self.decide(self.predict_proba(X))

    def decide(self, P: np.ndarray) -> np.ndarray:
        """Predictions from ``predict_proba`` output (class index, label mask or values)."""
        if self.regression:
            return P
        if self.multilabel:
            return P >= self.thresholds
        return P.argmax(1)

    def state(self) -> dict:
        return {"epochs_run": self.epochs_run, "best_valid": self.best_valid,
                **({"thresholds": [float(t) for t in self.thresholds]} if self.multilabel else {})}
