"""The linear-classifier adapter: one linear layer on frozen features, fitted like L2 logistic regression.

A linear layer trained with cross-entropy and weight decay is the model class of L2 logistic
regression, so on small sets (``solver = "auto"``: up to ``LBFGS_MAX_ROWS`` training rows) it is
fitted the way that model is best fitted: full-batch L-BFGS (``scipy.optimize``) on the exact
penalised loss. Mini-batch AdamW with a fixed decoupled decay and early stopping on one small
validation speaker lagged scikit-learn's logistic regression by 0.05 UAR on EmoDB ComParE (6373
dimensions): the stopping epoch, chosen on ~50 validation utterances, is noisy, and a fixed decay
per step is a different strength for every dimensionality and training-set size.

The L2 strength is the one hyper-parameter, chosen on the validation data only: one fit per
value of a log-spaced grid, strongest first, each warm-started from the previous solution. The
choice minimises the validation loss (``select = "loss"``, the default: cross-entropy, class-
weighted when ``class_balanced``; regression: squared error), a proper scoring rule that moves
smoothly with the strength, where UAR on one validation speaker (~50 utterances) moves in steps
of a few hundredths and chose strengths from 1e-7 to 1e-2 across EmoDB's folds; ``select =
"metric"`` takes the best validation UAR (multi-label: macro-F1 at the best global threshold;
regression: mean CCC), ties broken by the loss. The penalty is stated for inputs scaled to a mean squared row norm of 1,
which makes one grid mean the same across feature sets: a z-scored block of d features has
squared norm ~d, the runner's early fusion divides blocks by sqrt(d), TF-IDF rows have norm 1.
With ``refit`` the chosen strength is refitted on training + validation rows: validation served
to choose, and the final model should learn from every training-side speaker, as the logistic-
regression reference does. ``refit`` unset means: refit for single-label and regression fits by
L-BFGS, not for multi-label (its thresholds are chosen on the validation rows, which a refitted
model would have seen) nor for the AdamW recipe (its epoch count was chosen for a smaller set).

Larger sets (GoEmotions: 43k rows) keep mini-batch AdamW (``epochs``, ``lr``, ``weight_decay``,
``batch_size``), early-stopped on validation with ``patience``, every random choice seeded by
``seed``; with ``refit`` it retrains on training + validation rows for the chosen epoch count.
A grid of full-batch fits there costs minutes where AdamW needs seconds.

Class-balanced training weighs every class equally (weights n / (k n_c), as scikit-learn's
``class_weight="balanced"``; multi-label: positive weight sqrt((1-p)/p)). Multi-label uses
per-label sigmoids and decision thresholds chosen on the validation set; regression fits ridge
on standardised targets. The L-BFGS fit has nothing random: it is deterministic, whatever the seed.

The L-BFGS fit imports no torch (about 0.8 s of a run's start-up); the AdamW recipe uses a torch
module and the AdamW written out below, not ``torch.optim``, which imports ``torch._dynamo`` on
first use (about 1 s more). The weighted-layer head always takes the AdamW recipe.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: L2 strengths tried on validation, strongest first, in units of inputs with mean squared
#: row norm 1 and a mean (not summed) loss. 1e-1 all but zeroes the weights; 1e-7 is weaker than
#: scikit-learn's C = 1 on z-scored eGeMAPS (about 1/(n d) = 3e-5 in these units) and close to it
#: on ComParE (4e-7).
L2_GRID = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7)
#: used when there is no validation data to choose on: the grid's geometric middle
L2_DEFAULT = 1e-4
#: L-BFGS stops when no gradient entry exceeds this. Tying it to the strength (as scikit-learn's
#: tol on its summed loss does) doubled the iterations on EmoDB eGeMAPS, beyond the time budget;
#: the weakest strengths are then not fully converged, which acts like early stopping.
GTOL = 1e-5


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


THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.05), 2)


def _best_global_f1(Y, P):
    return max(_macro_f1(Y, P >= t) for t in THRESHOLDS)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class _Loss:
    """Penalised mean loss and its gradient for ``Z = X W + b`` (flattened ``[W, b]``).

    With more dense features than rows (ComParE: 6373 against ~430) the fit runs in the row space
    of X: with X = U S V' (thin SVD), W = V B gives the same logits from U S and the same penalty
    (||B|| = ||W||), and the gradients, hence the L-BFGS iterates from zero, never leave that
    space; so the model is the same while each step costs n x n instead of n x d.
    """

    #: the n x n Gram matrix and its eigendecomposition stay under 200 MB and a few seconds
    ROW_SPACE_MAX_ROWS = 5000

    def __init__(self, X, T, kind: str, k: int, weights=None, pos_weight=None):
        self.basis = None
        if not sp.issparse(X) and X.shape[0] < X.shape[1] and X.shape[0] <= self.ROW_SPACE_MAX_ROWS:
            # from the n x n Gram matrix: about 15x quicker than an SVD of X at these sizes
            ev, U = np.linalg.eigh(X @ X.T)
            keep = ev > max(ev[-1], 0.0) * 1e-10 if len(ev) else ev > 0
            U, S = U[:, keep], np.sqrt(ev[keep])
            X, self.basis = U * S, (X.T @ U) / S
        self.X, self.T, self.kind, self.k = X, T, kind, k
        self.n, self.d = X.shape
        self.XT = X.T.tocsr() if sp.issparse(X) else X.T
        if kind == "softmax":
            w = np.ones(self.n) if weights is None else weights
            self.sw = (w / w.sum())[:, None]
            self.onehot = np.zeros((self.n, k))
            self.onehot[np.arange(self.n), T] = 1.0
        self.pos_weight = pos_weight
        self.lam = 0.0

    def full(self, w):
        """Parameters in input space ``[W.ravel(), b]`` from the fitted ones."""
        if self.basis is None:
            return w
        W, b = self.split(w)
        return np.concatenate([(self.basis @ W).ravel(), b])

    def start(self, w_full):
        """Fitted parameters from input-space ones (a warm start); zeros for None."""
        if w_full is None:
            return np.zeros(self.d * self.k + self.k)
        if self.basis is None:
            return w_full
        k = self.k
        return np.concatenate([(self.basis.T @ w_full[:-k].reshape(-1, k)).ravel(), w_full[-k:]])

    def split(self, w):
        return w[:self.d * self.k].reshape(self.d, self.k), w[self.d * self.k:]

    def data_loss(self, Z, T):
        """Per-row loss (no penalty) of logits Z against targets T, and what its gradient needs
        (softmax probabilities, float targets or residuals)."""
        n = Z.shape[0]
        if self.kind == "softmax":
            Zs = Z - Z.max(1, keepdims=True)
            E = np.exp(Zs)
            s = E.sum(1, keepdims=True)
            ce = np.log(s[:, 0]) - Zs[np.arange(n), T]
            return ce, (E / s)
        if self.kind == "sigmoid":
            Y = T.astype(np.float64)
            pw = 1.0 if self.pos_weight is None else self.pos_weight
            bce = pw * Y * np.logaddexp(0, -Z) + (1 - Y) * np.logaddexp(0, Z)
            return bce.sum(1), Y
        r = Z - T
        return 0.5 * (r * r).sum(1), r

    def __call__(self, w):
        W, b = self.split(w)
        Z = np.asarray(self.X @ W) + b
        per_row, aux = self.data_loss(Z, self.T)
        if self.kind == "softmax":
            G = (aux - self.onehot) * self.sw
            loss = float((per_row * self.sw[:, 0]).sum())
        elif self.kind == "sigmoid":
            pw = 1.0 if self.pos_weight is None else self.pos_weight
            G = (_sigmoid(Z) * (1 - aux + pw * aux) - pw * aux) / self.n
            loss = float(per_row.mean())
        else:
            G = aux / self.n
            loss = float(per_row.mean())
        gW = np.asarray(self.XT @ G) + self.lam * W
        return loss + 0.5 * self.lam * float((W * W).sum()), np.concatenate([gW.ravel(), G.sum(0)])


class AdamW:
    """AdamW (Loshchilov & Hutter), the same update as ``torch.optim.AdamW`` (a test checks).

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
    #: changes whenever training changes, so that cached runs of the old recipe are not reused
    VERSION = "4"  # 3: strength chosen by validation loss, refitted on train + validation;
    #                4: the refit keeps the training rows' input scale (the chosen penalty)
    #: changes only when what a saved model stores, or how predictions follow from it, changes
    #: (heads/saved.py): a model trained with an older VERSION still predicts as it did
    SAVED_VERSION = "1"
    #: L-BFGS iterations per grid value at most; warm starts need far fewer
    MAX_ITER = 1000
    #: solver "auto" fits full-batch L-BFGS up to this many training rows and mini-batch AdamW
    #: above: a grid of full-batch fits on GoEmotions (43k rows x 28 labels) had not finished after
    #: 20 min on 2 busy cores, where AdamW takes seconds and already beats logistic regression
    LBFGS_MAX_ROWS = 20000

    def __init__(self, *, epochs: int = 100, lr: float = 1e-2, weight_decay: float = 0.1,
                 batch_size: int = 128, patience: int = 20, class_balanced: bool = False,
                 multilabel: bool = False, threshold: str = "per_class", seed: int = 0,
                 regression: bool = False, refit: bool | None = None, l2: float | None = None,
                 l2_grid: tuple | list | None = None, solver: str = "auto", select: str = "loss"):
        # epochs, lr, weight_decay, batch_size, patience and seed belong to the mini-batch AdamW
        # recipe; l2 and l2_grid to the L-BFGS one.
        if solver not in ("auto", "lbfgs", "adamw"):
            from ..errors import SpecError

            raise SpecError(f"head solver must be auto, lbfgs or adamw, got {solver!r}")
        if select not in ("loss", "metric"):
            from ..errors import SpecError

            raise SpecError(f"head select must be loss or metric, got {select!r}")
        self.select = select
        self.epochs, self.lr, self.wd = epochs, lr, weight_decay
        self.batch_size, self.patience = batch_size, patience
        self.class_balanced, self.multilabel = class_balanced, multilabel
        self.threshold, self.seed = threshold, seed
        self.regression, self.refit = regression, refit
        self.l2, self.l2_grid, self.solver = l2, l2_grid, solver
        self.history: list[dict] = []

    def _check_input(self, X) -> None:
        """Refuse inputs this head cannot take, before training (the weighted head checks shape)."""

    def _solver_for(self, n: int) -> str:
        if self.solver != "auto":
            return self.solver
        return "lbfgs" if n <= self.LBFGS_MAX_ROWS else "adamw"

    # -- fitting -------------------------------------------------------------------------
    def fit(self, X, y, Xv=None, yv=None, n_classes: int | None = None):
        self._check_input(X)
        has_valid = Xv is not None and Xv.shape[0] > 0
        if has_valid:
            self._check_input(Xv)
        self.k = n_classes or (y.shape[1] if (self.multilabel or self.regression) else int(y.max()) + 1)
        self.solver_ = self._solver_for(X.shape[0])
        refit = self.refit if self.refit is not None else (self.solver_ == "lbfgs" and not self.multilabel)
        self.refitted = bool(refit and has_valid)
        if not has_valid:
            Xv = yv = None
        if self.solver_ == "lbfgs":
            from threadpoolctl import threadpool_limits

            # One BLAS thread: on a busy 2-core machine two threads made the EmoDB runs 10-20x
            # slower (the matrices are a few hundred rows; synchronisation outweighs the work).
            with threadpool_limits(1):
                self._fit_lbfgs(X, y, Xv, yv)
        else:
            self._fit_adamw(X, y, Xv, yv)
        if self.multilabel:
            self._choose_thresholds(Xv if has_valid else X, yv if has_valid else y)
        return self

    def _fit_lbfgs(self, X, y, Xv, yv):
        has_valid = Xv is not None
        if self.l2 is not None:
            grid, source = [float(self.l2)], "fixed"
        elif has_valid:
            grid, source = sorted((float(g) for g in (self.l2_grid or L2_GRID)), reverse=True), "validation"
        else:
            grid, source = [L2_DEFAULT], "default"
        loss = self._loss(X, y)
        w, best, self.history = None, None, []
        for lam in grid:
            w, nit = self._solve(loss, lam, w)
            entry = {"l2": lam, "iterations": nit}
            if has_valid:
                score = self._valid_score(loss, w, Xv, yv)
                entry.update(valid=score[0], valid_loss=-score[1])
                if self.select == "loss":
                    score = (score[1], score[0])  # lower loss first, the metric breaks ties
                if best is None or score > best[0]:
                    best = (score, lam, w, nit)
            self.history.append(entry)
        if best is None:
            best = (None, grid[-1], w, nit)
        self.best_valid = None if best[0] is None else float(best[0][1 if self.select == "loss" else 0])
        self.l2_, self.l2_source, self.iterations = best[1], source, best[3]
        self.w_, self._scale = best[2], loss.scale
        if self.refitted:  # same strength, more data; warm start keeps it deterministic and quick
            stack = sp.vstack if sp.issparse(X) or sp.issparse(Xv) else np.concatenate
            Xa = stack([X, Xv])
            ya = np.concatenate([np.asarray(y), np.asarray(yv)])
            # The scale stays the training rows': the strength was chosen in those units, and
            # the validation rows, normalised with training statistics, may hold outliers that
            # would otherwise rescale the penalty (an EmoDB utterance with one eGeMAPS z-score
            # of 6000 made the refit's penalty 700x the chosen one).
            loss = self._loss(Xa.tocsr() if sp.issparse(Xa) else Xa, ya, scale=self._scale)
            self.w_, self.iterations = self._solve(loss, self.l2_, self.w_)

    def _loss(self, X, y, scale: float | None = None) -> _Loss:
        """The training objective on inputs scaled to mean squared row norm 1 (or by ``scale``)."""
        X = sp.csr_matrix(X, dtype=np.float64) if sp.issparse(X) else np.asarray(X, np.float64)
        if scale is None:
            total = X.multiply(X).sum() if sp.issparse(X) else np.einsum("ij,ij->", X, X)
            sq = float(total) / max(X.shape[0], 1)
            scale = 1.0 / np.sqrt(sq) if sq > 0 else 1.0
        X = X * scale
        k = self.k
        if self.regression:
            y = np.asarray(y, np.float64).reshape(len(y), -1)
            # targets are standardised for fitting and mapped back in decision()
            self.y_mu, self.y_sd = y.mean(0), np.maximum(y.std(0), 1e-6)
            out = _Loss(X, (y - self.y_mu) / self.y_sd, "linear", k)
        elif self.multilabel:
            Y = np.asarray(y, bool)
            pos = np.maximum(Y.mean(0), 1e-4)
            out = _Loss(X, Y, "sigmoid", k,
                        pos_weight=np.sqrt((1 - pos) / pos) if self.class_balanced else None)
        else:
            y = np.asarray(y, np.int64)
            w = None
            if self.class_balanced:
                counts = np.bincount(y, minlength=k).astype(np.float64)
                w = (len(y) / (k * np.maximum(counts, 1)))[y]
            out = _Loss(X, y, "softmax", k, weights=w)
        out.scale = scale
        return out

    def _solve(self, loss: _Loss, lam: float, w0):
        from scipy.optimize import minimize

        loss.lam = lam
        r = minimize(loss, loss.start(w0), jac=True, method="L-BFGS-B",
                     options={"maxiter": self.MAX_ITER, "gtol": GTOL})
        return loss.full(r.x), int(r.nit)

    def _valid_score(self, loss: _Loss, w, Xv, yv):
        """(validation metric, minus validation loss): compared as a tuple, so loss breaks ties."""
        Z = self._z(Xv, w, loss.scale)
        if self.regression:
            from ..metrics import _ccc_pearson

            T = (np.asarray(yv, np.float64).reshape(len(yv), -1) - self.y_mu) / self.y_sd
            ccc, _ = _ccc_pearson(T, Z)
            return float(np.nan_to_num(ccc).mean()), -float(loss.data_loss(Z, T)[0].mean())
        if self.multilabel:
            Y = np.asarray(yv, bool)
            return _best_global_f1(Y, _sigmoid(Z)), -float(loss.data_loss(Z, Y)[0].mean())
        yv = np.asarray(yv, np.int64)
        per_row = loss.data_loss(Z, yv)[0]
        if self.class_balanced:  # the loss the choice minimises weighs classes as training does
            counts = np.bincount(yv, minlength=self.k).astype(np.float64)
            wts = np.where(counts > 0, len(yv) / (self.k * np.maximum(counts, 1)), 0.0)[yv]
            return _uar(yv, Z.argmax(1), self.k), -float((per_row * wts).sum() / wts.sum())
        return _uar(yv, Z.argmax(1), self.k), -float(per_row.mean())

    def _build(self, d: int, k: int):
        """The torch module of the AdamW recipe and its parameter groups (params, weight decay)."""
        import torch

        model = torch.nn.Linear(d, k)
        return model, [(list(model.parameters()), self.wd)]

    def _fit_adamw(self, X, y, Xv, yv):
        import torch

        # A linear layer on a few hundred features is far too small to gain from intra-op
        # threads; their synchronisation made training 10x slower on a busy 2-core machine.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            best_epoch = self._train(X, y, Xv, yv, self.epochs)
            if self.refitted:  # the chosen number of epochs, on training + validation rows, same seed
                best_valid = self.best_valid
                stack = sp.vstack if sp.issparse(X) or sp.issparse(Xv) else np.concatenate
                Xa = stack([X, Xv])
                self._train(Xa.tocsr() if sp.issparse(Xa) else Xa,
                            np.concatenate([np.asarray(y), np.asarray(yv)]), None, None, best_epoch + 1)
                self.epochs_run, self.best_valid = best_epoch + 1, best_valid
        finally:
            torch.set_num_threads(threads)

    def _train(self, X, y, Xv, yv, epochs: int) -> int:
        """Mini-batch AdamW, early-stopped on validation when given; returns the best epoch."""
        import torch

        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        k = self.k
        self.model, groups = self._build(X.shape[1], k)
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
        has_valid = Xv is not None
        best, best_state, best_epoch, since, epoch = -np.inf, None, epochs - 1, 0, -1
        self.history = []
        for epoch in range(epochs):
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
            score = self._valid_score_adamw(Xv, yv)
            self.history.append({"epoch": epoch, "valid": score})
            if score > best + 1e-6:
                best, since, best_epoch = score, 0, epoch
                best_state = {kk: v.detach().clone() for kk, v in self.model.state_dict().items()}
            else:
                since += 1
                if since >= self.patience:
                    break
        if best_state is not None:
            self.model.load_state_dict(best_state)
        self.best_valid = float(best) if has_valid else None
        self.epochs_run = epoch + 1
        return best_epoch

    def _valid_score_adamw(self, Xv, yv):
        p = self.decision(Xv)
        if self.regression:
            from ..metrics import _ccc_pearson

            ccc, _ = _ccc_pearson(np.asarray(yv, np.float64).reshape(len(yv), -1), p.astype(np.float64))
            return float(np.nan_to_num(ccc).mean())
        if self.multilabel:
            return _macro_f1(np.asarray(yv, bool), p > 0)
        return _uar(np.asarray(yv), p.argmax(1), self.k)

    def _z(self, X, w, scale):
        W, b = w[:-self.k].reshape(-1, self.k), w[-self.k:]
        if sp.issparse(X):
            return np.asarray(X @ W) * scale + b
        return (np.asarray(X, np.float64) @ W) * scale + b

    # -- prediction ----------------------------------------------------------------------
    def decision(self, X) -> np.ndarray:
        if self.solver_ == "lbfgs":
            z = self._z(X, self.w_, self._scale) if X.shape[0] else np.zeros((0, self.k))
        else:
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
            return _sigmoid(z)
        z = z - z.max(1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(1, keepdims=True)

    def _choose_thresholds(self, X, Y):
        """Thresholds chosen on validation data (never test): global, or per class."""
        P = self.predict_proba(X)
        Y = np.asarray(Y, bool)
        grid = THRESHOLDS
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
        if self.solver_ == "lbfgs":
            fit = {"l2": self.l2_, "l2_source": self.l2_source, "select": self.select,
                   "iterations": self.iterations,
                   "path": [{kk: (round(v, 6) if isinstance(v, float) and kk != "l2" else v)
                             for kk, v in e.items()} for e in self.history]}
        else:
            fit = {"epochs_run": self.epochs_run, "lr": self.lr, "weight_decay": self.wd}
        return {"solver": self.solver_, "refit": self.refitted, "best_valid": self.best_valid, **fit,
                **({"thresholds": [float(t) for t in self.thresholds]} if self.multilabel else {})}
