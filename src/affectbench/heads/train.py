"""One training loop for every fusion head, so that the zoo differs only in its modules.

Fusion papers each ship their own loop (their own optimiser, their own stopping rule, often
selection on the test set, as MERBench does). A comparison of fusion *architectures* is only
fair when everything else is shared, so every head here inherits ``FusionHead``: AdamW,
early stopping on validation UAR (regression: mean CCC) with ``patience`` and the best weights
restored, class-balanced cross-entropy when asked, gradient clipping, and every random choice
(initialisation, dropout, batch order, modality dropout, prior samples) drawn from generators
seeded by ``seed``, so that one seed gives the same probabilities on CPU.

A head supplies ``_build(dims, k)`` returning a ``torch.nn.Module`` whose ``forward(xs, present,
lengths)`` returns a dict: ``out`` (logits ``[b, k]``; regression: standardised values),
optionally ``aux`` (a scalar added to the loss: MISA's similarity/difference/reconstruction,
MMIN's imagination, MCTN's translation …), ``extra`` (a list of ``(logits, row_mask)`` trained
with the task loss on the masked rows: late fusion's per-modality adapters) and ``train_out``
(False when ``out`` is a fixed combination that must not be trained itself).
"""
from __future__ import annotations

import inspect

import numpy as np

from ..errors import SpecError
from .blocks import Block, check_blocks

# Defaults sized for CPU: the paper grids (EmotionTalk Table 10) use hidden 64–256, dropout
# 0–0.5, lr 1e-3; we take the small end so every utterance-level head fits an EmotionTalk fold
# in under a minute on two cores.
COMMON = dict(epochs=60, lr=1e-3, weight_decay=1e-4, batch_size=128, patience=6,
              class_balanced=False, seed=0, regression=False, hidden=64, dropout=0.1,
              grad_clip=1.0, threads=1)


def _uar(y, p, k):
    rec = [np.mean(p[y == c] == c) for c in range(k) if np.any(y == c)]
    return float(np.mean(rec)) if rec else 0.0


class _threads:
    """Intra-op threads for the duration of a fit or predict.

    Fusion modules are small and their batches are small: on a busy two-core machine one
    thread was 5–20x faster than two (the threads wait on each other), as for the linear head.
    """

    def __init__(self, n: int):
        self.n = max(int(n), 1)

    def __enter__(self):
        import torch

        self.old = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.old)


class _Inputs:
    """Blocks as tensors, shared with numpy where possible (no copy of a 10 GB frame array).

    Rows are cut per batch and cast to float32 there, so float16 blocks stay float16 in memory.
    ``X`` may also be any array-like with ``shape``, ``ndim``, ``dtype`` and row indexing by an
    integer array (a row reader over a sequence shard): it is then read batch by batch, which
    keeps frame sets larger than memory trainable.
    """

    def __init__(self, blocks: list[Block], pool: bool):
        import torch

        self.xs, self.present, self.lengths = [], [], []
        for b in blocks:
            X = b.X
            lengths = None
            if b.is_sequence:
                lengths = (np.full(len(b), X.shape[1], np.int64) if b.lengths is None
                           else np.asarray(b.lengths, np.int64))
                if np.any(lengths > X.shape[1]) or np.any(lengths < 0):
                    raise SpecError(f"block {b.name}: lengths outside 0..{X.shape[1]} frames")
                if pool:  # an utterance-level head given frames: the masked mean over valid frames
                    X = _pool(X, lengths)
                    lengths = None
            present = np.asarray(b.present, bool)
            if present.shape != (len(b),):
                raise SpecError(f"block {b.name}: present has shape {present.shape}, expected ({len(b)},)")
            if lengths is not None:
                present = present & (lengths > 0)  # a sequence without frames is a missing modality
            if isinstance(X, np.ndarray):
                if X.dtype not in (np.float32, np.float16):
                    X = X.astype(np.float32)
                X = torch.from_numpy(np.ascontiguousarray(X))
            self.xs.append(X)
            self.present.append(torch.from_numpy(present.copy()))
            self.lengths.append(None if lengths is None else torch.from_numpy(lengths))
        self.n = len(blocks[0])

    def batch(self, idx):
        import torch

        xs = [x[idx].float() if torch.is_tensor(x) else torch.from_numpy(np.asarray(x[idx.numpy()], np.float32))
              for x in self.xs]
        lens = [None if ln is None else ln[idx] for ln in self.lengths]
        # trim each sequence block to the longest row of the batch: padded frames cost time
        for i, ln in enumerate(lens):
            if ln is not None and len(ln):
                xs[i] = xs[i][:, :max(int(ln.max()), 1)]
        return xs, [p[idx] for p in self.present], lens


def _pool(X, lengths, chunk: int = 2048):
    """Mean over each row's valid frames, read in chunks (X may be a row reader)."""
    out = np.empty((X.shape[0], X.shape[2]), np.float32)
    for s in range(0, X.shape[0], chunk):
        idx = np.arange(s, min(s + chunk, X.shape[0]))
        part = np.asarray(X[idx], np.float32)
        ln = lengths[idx]
        t = np.arange(part.shape[1])[None, :, None] < ln[:, None, None]
        out[idx] = np.where(t, part, 0).sum(1) / np.maximum(ln, 1)[:, None]
    return out


class EarlyStop:
    """Early stopping on the validation score: keeps the best epoch's weights and says when
    ``patience`` epochs have passed without a better one (the fusion and context heads share it)."""

    def __init__(self, head):
        self.head, self.best, self.state, self.best_epoch, self.since = head, -np.inf, None, -1, 0

    def update(self, epoch: int, score: float) -> bool:
        h = self.head
        h.history.append({"epoch": epoch, "valid": score})
        if score > self.best + 1e-6:
            self.best, self.best_epoch, self.since = score, epoch, 0
            self.state = {kk: v.detach().clone() for kk, v in h.model.state_dict().items()}
            return False
        self.since += 1
        return self.since >= int(h.patience)

    def finish(self, validated: bool, epochs_run: int) -> None:
        h = self.head
        if self.state is not None:
            h.model.load_state_dict(self.state)
        h.best_valid = float(self.best) if validated else None
        h.best_epoch = self.best_epoch if validated else None
        h.epochs_run = epochs_run


class FusionHead:
    """Base of the fusion zoo (``takes_blocks``): the shared loop; subclasses give the module.

    Subclasses list their own options in ``OPTIONS``; the constructor (with an explicit signature,
    so ``make_head`` can filter a spec's ``[head]`` table) takes those plus ``COMMON``.
    """

    VERSION = "1"
    #: changes only when the saved state_dict or its constructor options change meaning
    SAVED_VERSION = "1"
    takes_blocks = True
    needs_sequences = False
    min_blocks = 2
    kind = "fusion"
    OPTIONS: dict = {}

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        opts = {**COMMON, **cls.OPTIONS}
        params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        params += [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v) for k, v in opts.items()]

        def __init__(self, **kwargs):
            unknown = sorted(set(kwargs) - set(opts))
            if unknown:
                raise SpecError(f"head '{cls.kind}': unknown option(s) {', '.join(unknown)}; "
                                f"valid: {', '.join(sorted(opts))}")
            self.options = {**opts, **kwargs}
            for k, v in self.options.items():
                setattr(self, k, v)
            self._validate_options()
            self.history: list[dict] = []

        __init__.__signature__ = inspect.Signature(params)
        cls.__init__ = __init__

    # ---- hooks -------------------------------------------------------------------------
    def _validate_options(self) -> None:
        if int(self.hidden) < 1:
            raise SpecError(f"head '{self.kind}': hidden must be ≥ 1, got {self.hidden}")
        if not 0 <= float(self.dropout) < 1:
            raise SpecError(f"head '{self.kind}': dropout must be in [0, 1), got {self.dropout}")

    def _check(self, blocks: list[Block], n_ref: int | None = None) -> int:
        where = f"head '{self.kind}'"
        if not isinstance(blocks, (list, tuple)) or not all(isinstance(b, Block) for b in blocks):
            raise SpecError(f"{where} takes a list of feature blocks")
        n = check_blocks(list(blocks), need_sequences=self.needs_sequences, where=where)
        if len(blocks) < self.min_blocks:
            raise SpecError(f"{where} fuses modalities and needs at least {self.min_blocks} feature "
                            f"blocks, got {len(blocks)} ({', '.join(b.name for b in blocks)}); use "
                            "head 'concat' or 'linear' for one block")
        for b in blocks:
            if b.X.ndim not in (2, 3):
                raise SpecError(f"{where}: block {b.name} has {b.X.ndim} dimensions; expected [n, d] or [n, t, d]")
        if hasattr(self, "signature_"):
            sig = [(b.name, b.dim) for b in blocks]
            if sig != self.signature_:
                raise SpecError(f"{where} was fitted on blocks {self.signature_}, given {sig}")
        return n

    def _build(self, dims: list[int], k: int):
        raise NotImplementedError

    # ---- training ----------------------------------------------------------------------
    def _start(self, blocks, valid_blocks):
        """Checks the blocks and records their signature; the validation blocks, or None when
        there are none (subclasses' fit methods share this)."""
        self.__dict__.pop("signature_", None)  # a refit may take other blocks
        self.history = []
        self._check(blocks)
        self.signature_ = [(b.name, b.dim) for b in blocks]
        self.names_ = [b.name for b in blocks]
        self.modalities_ = [b.modality for b in blocks]
        if valid_blocks is None or not len(valid_blocks) or len(valid_blocks[0]) == 0:
            return None
        self._check(valid_blocks)
        return valid_blocks

    def fit(self, blocks, y, valid_blocks=None, y_valid=None, n_classes: int | None = None):
        valid = self._start(blocks, valid_blocks)
        with _threads(int(self.threads)):
            return self._fit(blocks, y, valid, y_valid, n_classes)

    def _target(self, y, k_given):
        if self.regression:
            y = np.asarray(y, np.float32).reshape(len(y), -1)
            self.y_mu, self.y_sd = y.mean(0), np.maximum(y.std(0), 1e-6)
            return (y - self.y_mu) / self.y_sd, y.shape[1]
        y = np.asarray(y, np.int64)
        return y, int(k_given or (int(y.max()) + 1))

    def _fit(self, blocks, y, vblocks, yv, n_classes):
        import torch

        torch.manual_seed(int(self.seed))
        self.gen = torch.Generator().manual_seed(int(self.seed))
        train = _Inputs(blocks, pool=not self.needs_sequences)
        Yn, k = self._target(y, n_classes)
        self.k = k
        if len(Yn) != train.n:
            raise SpecError(f"head '{self.kind}': {len(Yn)} labels for {train.n} rows")
        Y = torch.as_tensor(Yn)
        self.class_weight = self._class_weight(Yn, k)
        dims = [int(x.shape[-1]) for x in train.xs]
        self.model = self._build(dims, k)
        self.model.gen = self.gen  # modality dropout, prior samples: the head's own generator
        opt = torch.optim.AdamW(self.model.parameters(), lr=float(self.lr),
                                weight_decay=float(self.weight_decay))
        valid = _Inputs(vblocks, pool=not self.needs_sequences) if vblocks is not None else None
        stop, epoch = EarlyStop(self), -1
        bs = int(self.batch_size)
        self.missing_train = {nm: int((~p).sum()) for nm, p in zip(self.names_, train.present)}
        for epoch in range(int(self.epochs)):
            self.model.train()
            perm = torch.randperm(train.n, generator=self.gen)
            for s in range(0, train.n, bs):
                idx = perm[s:s + bs]
                if len(idx) < 2 and train.n > 1:
                    continue  # a batch of one breaks batch statistics (CMD, orthogonality)
                res = self.model(*train.batch(idx))
                loss = self._loss(res, Y[idx])
                self._step(opt, loss)
            if valid is not None and stop.update(epoch, self._score(self._forward(valid), yv)):
                break
        stop.finish(valid is not None, epoch + 1)
        self._after_fit(valid, yv)
        return self

    def _class_weight(self, Yn, k):
        """Inverse-frequency weights (sklearn's "balanced") when asked for; None otherwise."""
        import torch

        if self.regression or not self.class_balanced:
            return None
        counts = np.bincount(Yn, minlength=k).astype(np.float32)
        return torch.as_tensor(np.where(counts > 0, len(Yn) / (k * np.maximum(counts, 1)), 0.0),
                               dtype=torch.float32)

    def _step(self, opt, loss) -> None:
        import torch

        opt.zero_grad()
        loss.backward()
        if self.grad_clip and self.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), float(self.grad_clip))
        opt.step()

    def _after_fit(self, valid, yv) -> None:
        """Fitted on validation after training (late fusion's stacking weights)."""

    def _task_loss(self, out, Y, mask=None):
        import torch
        import torch.nn.functional as F

        if self.regression:
            per = ((out - Y) ** 2).mean(1)
            wts = torch.ones_like(per)
        else:
            per = F.cross_entropy(out, Y, reduction="none")
            wts = self.class_weight[Y] if self.class_weight is not None else torch.ones_like(per)
        if mask is not None:
            wts = wts * mask.float()
        return (per * wts).sum() / wts.sum().clamp(min=1e-8)

    def _loss(self, res, Y):
        loss = 0.0
        if res.get("train_out", True):
            loss = loss + self._task_loss(res["out"], Y)
        for logits, mask in res.get("extra", ()):
            loss = loss + self._task_loss(logits, Y, mask)
        if "aux" in res:
            loss = loss + res["aux"]
        return loss

    def _score(self, out: np.ndarray, yv) -> float:
        if self.regression:
            from ..metrics import _ccc_pearson

            pred = out * self.y_sd + self.y_mu
            ccc, _ = _ccc_pearson(np.asarray(yv, np.float64).reshape(len(yv), -1), pred.astype(np.float64))
            return float(np.nan_to_num(ccc).mean())
        return _uar(np.asarray(yv), out.argmax(1), self.k)

    # ---- inference ---------------------------------------------------------------------
    def _forward(self, inputs: _Inputs, key: str = "out", chunk: int = 512):
        """``res[key]`` over all rows in eval mode: one array, or one per modality for a list."""
        import torch

        self.model.eval()
        outs = []
        with torch.inference_mode():
            for s in range(0, inputs.n, chunk):
                idx = torch.arange(s, min(s + chunk, inputs.n))
                outs.append(self.model(*inputs.batch(idx))[key])
        if not outs:
            return np.zeros((0, self.k), np.float32)
        if isinstance(outs[0], (list, tuple)):
            return [np.concatenate([o[i].numpy() for o in outs]) for i in range(len(outs[0]))]
        return np.concatenate([o.numpy() for o in outs])

    def _softmax(self, z):
        z = z - z.max(1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(1, keepdims=True)

    def predict_proba(self, blocks) -> np.ndarray:
        if not hasattr(self, "model"):
            raise SpecError(f"head '{self.kind}': predict before fit")
        self._check(blocks)
        with _threads(int(self.threads)):
            z = self._forward(_Inputs(blocks, pool=not self.needs_sequences))
        if self.regression:
            return z * self.y_sd + self.y_mu
        return self._softmax(z)

    def decide(self, P: np.ndarray) -> np.ndarray:
        return P if self.regression else P.argmax(1)

    def predict(self, blocks) -> np.ndarray:
        return self.decide(self.predict_proba(blocks))

    def modality_predictions(self, blocks) -> dict:
        """Heads with unimodal branches override this; fused-only heads have none to give."""
        return {}

    def state(self) -> dict:
        st = {"head": self.kind, "version": self.VERSION, "epochs_run": self.epochs_run,
              "best_valid": self.best_valid, "best_epoch": self.best_epoch,
              "settings": {k: v for k, v in self.options.items()},
              "missing_train_rows": self.missing_train}
        if self.best_valid is None:
            st["validation"] = "none: trained for all epochs, last weights kept"
        return st


# ---- pieces the heads share ---------------------------------------------------------------
def masked_mean(x, lengths):
    """Mean over each row's valid frames (``lengths``; 0 frames gives zeros)."""
    import torch

    t = torch.arange(x.shape[1])[None, :] < lengths[:, None]
    return (x * t[..., None]).sum(1) / lengths.clamp(min=1)[:, None].to(x.dtype)


def align(x, lengths, steps: int):
    """Resample each row's valid frames to ``steps`` positions (nearest, by relative position).

    MFN, Graph-MFN and MCTN were written for word-aligned CMU-MOSI/MOSEI sequences, where all
    modalities share one time axis; frozen-encoder frames come at different rates and lengths,
    so we align by relative position within each row. Padded frames are never read.
    """
    import torch

    pos = (torch.arange(steps, dtype=torch.float32)[None, :] + 0.5) / steps
    idx = (pos * lengths[:, None].float()).long()
    idx = torch.minimum(idx, (lengths - 1).clamp(min=0)[:, None])
    out = torch.gather(x, 1, idx[..., None].expand(-1, -1, x.shape[2]))
    return out * (lengths > 0)[:, None, None].to(x.dtype)


def safe_padding(pad, keep_one: bool = True):
    """Key-padding masks where a row with nothing to attend to unmasks its first slot.

    A fully masked attention row gives NaN; the caller zeroes that row's output instead.
    """
    empty = pad.all(1)
    if keep_one and bool(empty.any()):
        pad = pad.clone()
        pad[empty, 0] = False
    return pad, empty


def sinusoid(t: int, d: int):
    import torch

    pos = torch.arange(t, dtype=torch.float32)[:, None]
    i = torch.arange(0, d, 2, dtype=torch.float32)
    ang = pos / (10000 ** (i / max(d, 1)))
    pe = torch.zeros(t, d)
    pe[:, 0::2] = torch.sin(ang)
    pe[:, 1::2] = torch.cos(ang[:, : d // 2])
    return pe


def mlp(d_in: int, hidden: int, d_out: int, dropout: float):
    import torch.nn as nn

    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, d_out))


def combos(m: int):
    """Every non-empty subset of ``range(m)``, smallest first (Graph-MFN's vertices)."""
    from itertools import combinations

    return [c for r in range(1, m + 1) for c in combinations(range(m), r)]

