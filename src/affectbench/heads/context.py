"""Context heads: emotion recognition in conversation (ERC) over frozen feature blocks.

An utterance's emotion often shows only in its conversation: a flat "fine." after an angry
turn of the same speaker. These heads receive, beside the blocks, the **dialogue order** of
their rows (:class:`DialogueOrder`: dialogue id, turn, speaker per row) and classify every
utterance of a dialogue at once. They never see a corpus.

- ``ctx_window``: the ``window`` previous utterances, attended separately for the same
  speaker and for the other speakers (speaker-aware), beside the utterance itself.
- ``ctx_gru``: a GRU over the dialogue's utterances; bi-directional only when future turns
  are allowed.
- ``dialoguernn``: in the spirit of DialogueRNN (Majumder et al., AAAI 2019): a global GRU
  over the conversation, one party state per speaker updated from the utterance and an
  attention over the global history, and an emotion GRU over the speaker states. With
  future turns, a second pass runs over the reversed dialogue (their BiDialogueRNN).
- ``dialoguegcn``: in the spirit of DialogueGCN (Ghosal et al., EMNLP 2019): a sequential
  GRU encoder, then a graph over a window of neighbours (``window`` past, ``window_future``
  future) whose edges have one relation type per (speaker of the neighbour, speaker of the
  utterance, direction), edge weights from attention, a relational graph convolution and a
  plain graph convolution.

``context = "past"`` (the default, online use) makes every prediction a function of the
utterance and *earlier* turns only: uni-directional recurrences, windows and graph edges
that point backwards. ``"past+future"`` (offline analysis of whole recordings) lets them
read later turns too. tests/test_context_heads.py checks that changing later turns leaves
earlier predictions bit-identical under ``"past"``.

Speakers are numbered per dialogue in order of first appearance ("party" 0, 1, …), as
DialogueRNN and DialogueGCN do; the graph's relation types cap parties at ``parties``
(further speakers share the last number). The training loop is the fusion heads' (AdamW,
early stopping on validation UAR, seeded), with whole dialogues as the batch unit; written
here because no maintained library trains these models on precomputed features.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SpecError
from .blocks import Block
from .train import EarlyStop, FusionHead, _Inputs, _threads, mlp

CONTEXTS = ("past", "past+future")


# ---- the dialogue order -------------------------------------------------------------------
@dataclass
class DialogueOrder:
    """Per row: its dialogue, its turn in it and its speaker (same rows as the blocks)."""

    dialogue: np.ndarray
    turn: np.ndarray
    speaker: np.ndarray

    @classmethod
    def from_frame(cls, df) -> "DialogueOrder":
        return cls(df["dialogue"].astype(str).to_numpy(object), df["turn"].astype("int64").to_numpy(),
                   df["speaker"].astype(str).to_numpy(object))

    def __len__(self) -> int:
        return len(self.turn)

    def rows(self, idx) -> "DialogueOrder":
        return DialogueOrder(self.dialogue[idx], self.turn[idx], self.speaker[idx])

    def dialogues(self) -> list[np.ndarray]:
        """Row positions of each dialogue, in turn order (dialogues sorted by id)."""
        order = np.lexsort((self.turn, self.dialogue))
        d = self.dialogue[order]
        cuts = np.flatnonzero(d[1:] != d[:-1]) + 1
        groups = np.split(order, cuts) if len(order) else []
        for g in groups:
            t = self.turn[g]
            if len(t) > 1 and np.any(t[1:] == t[:-1]):
                raise SpecError(f"dialogue {self.dialogue[g[0]]}: two rows on turn {int(t[np.flatnonzero(t[1:] == t[:-1])[0]])}")
        return groups

    def parties(self, groups: list[np.ndarray]) -> np.ndarray:
        """Each row's speaker numbered within its dialogue by first appearance (0, 1, …)."""
        out = np.zeros(len(self), np.int64)
        for g in groups:
            seen: dict = {}
            for r in g:
                out[r] = seen.setdefault(self.speaker[r], len(seen))
        return out


# ---- the shared loop ------------------------------------------------------------------------
class ContextHead(FusionHead):
    """Base of the context heads: blocks in, one prediction per utterance, dialogues as batches."""

    takes_context = True
    min_blocks = 1
    kind = "context"
    OPTIONS = {"context": "past", "hidden": 64, "dropout": 0.2, "lr": 3e-3, "epochs": 40, "patience": 8,
               "dialogues_per_batch": 0}

    def _validate_options(self) -> None:
        super()._validate_options()
        if self.context not in CONTEXTS:
            raise SpecError(f"head '{self.kind}': context must be one of {', '.join(CONTEXTS)}, "
                            f"got {self.context!r}")
        if int(self.dialogues_per_batch) < 0:
            raise SpecError(f"head '{self.kind}': dialogues_per_batch must be ≥ 1 (0: chosen from the data)")

    @property
    def future(self) -> bool:
        return self.context == "past+future"

    def _order(self, dialogue, n: int, what: str) -> DialogueOrder:
        if dialogue is None:
            raise SpecError(f"head '{self.kind}' models conversation context and needs the dialogue "
                            f"order of its {what} rows (dialogue, turn, speaker); none was given")
        if len(dialogue) != n:
            raise SpecError(f"head '{self.kind}': dialogue order of {len(dialogue)} rows for {n} {what} rows")
        return dialogue

    def _pack(self, blocks, dialogue, what):
        """Blocks → one [n+1, D] matrix (row n: zeros for padding) + dialogues + parties."""
        import torch

        inp = _Inputs(blocks, pool=True)
        order = self._order(dialogue, inp.n, what)
        xs = [x.float() * p.float()[:, None] for x, p in zip(inp.xs, inp.present)]
        flags = torch.stack([p.float() for p in inp.present], 1)
        X = torch.cat(xs + [flags], 1)
        X = torch.cat([X, torch.zeros(1, X.shape[1])], 0)
        groups = order.dialogues()
        return X, groups, torch.from_numpy(order.parties(groups))

    def _batch(self, X, groups, parties, which):
        """Dialogues ``which`` → x [B, T, D], mask [B, T], party [B, T], rows [B, T] (-1 padding)."""
        import torch

        sel = [groups[i] for i in which]
        T = max(len(g) for g in sel)
        rows = torch.full((len(sel), T), -1, dtype=torch.long)
        for b, g in enumerate(sel):
            rows[b, :len(g)] = torch.from_numpy(g)
        mask = rows >= 0
        x = X[torch.where(mask, rows, X.shape[0] - 1)]
        party = torch.where(mask, parties[rows.clamp(min=0)], torch.zeros_like(rows))
        return x, mask, party, rows

    def fit(self, blocks, y, valid_blocks=None, y_valid=None, n_classes: int | None = None,
            dialogue=None, valid_dialogue=None):
        valid = self._start(blocks, valid_blocks)
        with _threads(int(self.threads)):
            return self._fit_dialogues(blocks, y, dialogue, valid, y_valid, valid_dialogue, n_classes)

    def _fit_dialogues(self, blocks, y, dialogue, vblocks, yv, vdialogue, n_classes):
        import torch

        torch.manual_seed(int(self.seed))
        self.gen = torch.Generator().manual_seed(int(self.seed))
        X, groups, parties = self._pack(blocks, dialogue, "training")
        Yn, k = self._target(y, n_classes)
        self.k = k
        Y = torch.as_tensor(Yn)
        self.class_weight = self._class_weight(Yn, k)
        self.model = self._build(int(X.shape[1]), k)
        opt = torch.optim.AdamW(self.model.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
        valid = self._pack(vblocks, vdialogue, "validation") if vblocks is not None else None
        self.missing_train = {nm: int((~np.asarray(b.present, bool)).sum()) for nm, b in zip(self.names_, blocks)}
        stop, epoch = EarlyStop(self), -1
        # about 40 updates an epoch (MELD: 26 dialogues a batch), at least 4 dialogues each
        bs = int(self.dialogues_per_batch) or int(np.clip(len(groups) // 40, 4, 32))
        lengths = np.array([len(g) for g in groups])
        for epoch in range(int(self.epochs)):
            self.model.train()
            for which in self._buckets(lengths, bs):
                x, mask, party, rows = self._batch(X, groups, parties, which)
                out = self.model(x, mask, party)[mask]
                loss = self._task_loss(out, Y[rows[mask]])
                self._step(opt, loss)
            if valid is not None and stop.update(epoch, self._score(self._run(*valid), yv)):
                break
        stop.finish(valid is not None, epoch + 1)
        return self

    def _buckets(self, lengths: np.ndarray, bs: int) -> list[np.ndarray]:
        """Batches of dialogues of similar length (less padding, fewer recurrent steps), in a
        seeded random order: sort by length plus noise, cut, shuffle the batches."""
        import torch

        noise = torch.rand(len(lengths), generator=self.gen).numpy() * 2.0
        order = np.argsort(lengths + noise, kind="stable")
        batches = [order[s:s + bs] for s in range(0, len(order), bs)]
        perm = torch.randperm(len(batches), generator=self.gen).numpy()
        return [batches[i] for i in perm]

    def _run(self, X, groups, parties, chunk: int = 64) -> np.ndarray:
        """Outputs for every row, in row order; dialogues in fixed chunks (eval mode)."""
        import torch

        self.model.eval()
        out = np.zeros((X.shape[0] - 1, self.k), np.float32)
        # dialogues by length, so a chunk pads little; a row's output never depends on its chunk
        by_len = np.argsort([len(g) for g in groups], kind="stable")
        with torch.inference_mode():
            for s in range(0, len(groups), chunk):
                x, mask, party, rows = self._batch(X, groups, parties, by_len[s:s + chunk])
                out[rows[mask].numpy()] = self.model(x, mask, party)[mask].numpy()
        return out

    def predict_proba(self, blocks, dialogue=None) -> np.ndarray:
        if not hasattr(self, "model"):
            raise SpecError(f"head '{self.kind}': predict before fit")
        self._check(blocks)
        with _threads(int(self.threads)):
            z = self._run(*self._pack(blocks, dialogue, "test"))
        if self.regression:
            return z * self.y_sd + self.y_mu
        return self._softmax(z)

    def predict(self, blocks, dialogue=None) -> np.ndarray:
        return self.decide(self.predict_proba(blocks, dialogue))

    def state(self) -> dict:
        st = super().state()
        st["context"] = self.context
        return st


# ---- modules ----------------------------------------------------------------------------------
def _nn():
    import torch
    import torch.nn as nn

    return torch, nn


def _shift(t, o: int):
    """``t[:, i - o]`` at position i (zeros where i - o falls outside 0..T-1); o < 0 looks ahead."""
    import torch.nn.functional as F

    T = t.shape[1]
    pad = [0, 0] * (t.dim() - 2)
    if o > 0:
        return F.pad(t, pad + [o, 0])[:, :T]
    if o < 0:
        return F.pad(t, pad + [0, -o])[:, -o:]
    return t


def _offsets(past: int, future: int, self_loop: bool) -> list[int]:
    return ([0] if self_loop else []) + list(range(1, past + 1)) + [-f for f in range(1, future + 1)]


def _gru_over(gru, u, mask):
    """A (bi)GRU over each dialogue's valid turns; padding never enters a valid position."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    lengths = mask.sum(1).cpu()
    packed = pack_padded_sequence(u, lengths, batch_first=True, enforce_sorted=False)
    out, _ = gru(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=u.shape[1])
    return out * mask[..., None].to(out.dtype)


class WindowHead(ContextHead):
    """The k previous utterances, attended apart for the same speaker and for the others."""

    kind = "ctx_window"
    OPTIONS = {**ContextHead.OPTIONS, "window": 5}

    def _build(self, d, k):
        torch, nn = _nn()
        h, p = int(self.hidden), float(self.dropout)
        offs = _offsets(int(self.window), int(self.window) if self.future else 0, False)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Dropout(p))
                self.q = nn.Linear(h, h, bias=False)
                self.key = nn.Linear(h, 1, bias=False)  # how telling a neighbour is, whoever asks
                self.bias = nn.Parameter(torch.zeros(2, len(offs)))  # [same/other, offset]
                self.out = mlp(3 * h, h, k, p)

            def forward(self, x, mask, party):
                u = self.proj(x)
                nb = torch.stack([_shift(u, o) for o in offs], 2)  # [B, T, K, h]
                ok = torch.stack([_shift(mask, o) for o in offs], 2)
                same = torch.stack([_shift(party, o) for o in offs], 2) == party[..., None]
                score = (self.q(u)[:, :, None] * nb).sum(-1) / h ** 0.5 + self.key(nb).squeeze(-1)
                ctx = []
                for j, grp in enumerate((same, ~same)):
                    valid = ok & grp
                    s = torch.where(valid, score + self.bias[j], torch.full_like(score, -1e9))
                    w = torch.softmax(s, -1) * valid
                    ctx.append((w[..., None] * nb).sum(2))
                return self.out(torch.cat([u] + ctx, -1))

        return Net()


class _PartyInput:
    """Utterance projection plus who speaks (party number, capped): a recurrence over the
    dialogue must know whether consecutive turns come from one speaker or two."""

    @staticmethod
    def make(d, h, p, parties):
        torch, nn = _nn()

        class Proj(nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Dropout(p))
                self.party = nn.Embedding(parties, h)

            def forward(self, x, party):
                return self.lin(x) + self.party(party.clamp(max=parties - 1))

        return Proj()


class GRUContextHead(ContextHead):
    """A GRU over the dialogue (bi-directional only when future turns are allowed)."""

    kind = "ctx_gru"
    OPTIONS = {**ContextHead.OPTIONS, "parties": 4}

    def _build(self, d, k):
        torch, nn = _nn()
        h, p, bi = int(self.hidden), float(self.dropout), self.future
        P = int(self.parties)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = _PartyInput.make(d, h, p, P)
                self.gru = nn.GRU(h, h, batch_first=True, bidirectional=bi)
                self.out = nn.Sequential(nn.Dropout(p), nn.Linear(h + h * (2 if bi else 1), h), nn.ReLU(),
                                         nn.Linear(h, k))

            def forward(self, x, mask, party):
                u = self.proj(x, party)
                return self.out(torch.cat([u, _gru_over(self.gru, u, mask)], -1))

        return Net()


class DialogueRNNHead(ContextHead):
    """Global, party and emotion GRUs in the spirit of DialogueRNN (Majumder et al., 2019)."""

    kind = "dialoguernn"

    def _build(self, d, k):
        torch, nn = _nn()
        h, p, bi = int(self.hidden), float(self.dropout), self.future

        class Pass(nn.Module):
            def __init__(self):
                super().__init__()
                self.g = nn.GRUCell(2 * h, h)  # global: [u; speaker's previous state]
                self.q = nn.GRUCell(2 * h, h)  # party: [u; attended global history]
                self.e = nn.GRUCell(h, h)  # emotion: over the speakers' states
                self.att = nn.Linear(h, h, bias=False)

            def forward(self, u, mask, party):
                B, T, _ = u.shape
                P = int(party.max()) + 1
                q = u.new_zeros(B, P, h)
                g_prev, e = u.new_zeros(B, h), u.new_zeros(B, h)
                hist, hmask, outs = [], [], []
                ar = torch.arange(B)
                for t in range(T):
                    m = mask[:, t][:, None].to(u.dtype)
                    ut, s = u[:, t], party[:, t]
                    qs = q[ar, s]
                    if hist:  # attention over the global states of earlier turns only
                        H = torch.stack(hist, 1)
                        a = (H @ self.att(ut)[:, :, None]).squeeze(-1) / h ** 0.5
                        a = torch.where(torch.stack(hmask, 1), a, torch.full_like(a, -1e9))
                        c = (torch.softmax(a, 1)[..., None] * H).sum(1) * torch.stack(hmask, 1).any(1, keepdim=True)
                    else:
                        c = u.new_zeros(B, h)
                    g = self.g(torch.cat([ut, qs], 1), g_prev) * m
                    qn = self.q(torch.cat([ut, c], 1), qs)
                    q = q.clone()
                    q[ar, s] = torch.where(m > 0, qn, qs)  # listeners keep their state
                    e = torch.where(m > 0, self.e(qn, e), e)
                    outs.append(e)
                    hist.append(g)
                    hmask.append(mask[:, t])
                    g_prev = torch.where(m > 0, g, g_prev)
                return torch.stack(outs, 1)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Dropout(p))
                self.fwd = Pass()
                self.bwd = Pass() if bi else None
                self.out = nn.Sequential(nn.Dropout(p), nn.Linear(h * (3 if bi else 2), h), nn.ReLU(),
                                         nn.Linear(h, k))

            def forward(self, x, mask, party):
                u = self.proj(x)
                parts = [u, self.fwd(u, mask, party)]
                if self.bwd is not None:  # the reversed dialogue: flip each row's valid turns
                    idx = _reverse_index(mask)
                    rev = self.bwd(_take(u, idx), mask, torch.gather(party, 1, idx))
                    parts.append(_take(rev, idx))
                return self.out(torch.cat(parts, -1))

        return Net()


def _reverse_index(mask):
    """Per row, the position that holds the mirror of each valid turn (padding stays put)."""
    import torch

    T = mask.shape[1]
    L = mask.sum(1, keepdim=True)
    pos = torch.arange(T)[None, :].expand_as(mask)
    return torch.where(pos < L, L - 1 - pos, pos)


def _take(t, idx):
    import torch

    return torch.gather(t, 1, idx[..., None].expand(-1, -1, t.shape[-1]))


class DialogueGCNHead(ContextHead):
    """A relational graph over a window of turns in the spirit of DialogueGCN (Ghosal et al., 2019)."""

    kind = "dialoguegcn"
    OPTIONS = {**ContextHead.OPTIONS, "window": 10, "window_future": 10, "parties": 2}

    def _validate_options(self):
        super()._validate_options()
        if int(self.parties) < 1 or int(self.window) < 0 or int(self.window_future) < 0:
            raise SpecError(f"head '{self.kind}': parties ≥ 1 and windows ≥ 0 please")

    def _build(self, d, k):
        torch, nn = _nn()
        h, p, bi = int(self.hidden), float(self.dropout), self.future
        P = int(self.parties)
        offs = _offsets(int(self.window), int(self.window_future) if bi else 0, True)
        R = 2 * P * P  # (neighbour's party, utterance's party, direction)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = _PartyInput.make(d, h, p, P)
                self.gru = nn.GRU(h, h, batch_first=True, bidirectional=bi)
                g = h * (2 if bi else 1)
                self.att = nn.Linear(g, g, bias=False)
                self.key = nn.Linear(g, 1, bias=False)  # how telling a neighbour is, whoever asks
                self.rel = nn.Linear(g, R * h, bias=False)
                self.root1 = nn.Linear(g, h)
                self.w2 = nn.Linear(h, h, bias=False)
                self.root2 = nn.Linear(h, h)
                self.out = nn.Sequential(nn.Dropout(p), nn.Linear(g + h, h), nn.ReLU(), nn.Linear(h, k))

            def forward(self, x, mask, party):
                B, T = mask.shape
                g = _gru_over(self.gru, self.proj(x, party), mask)
                pc = party.clamp(max=P - 1)
                ok = torch.stack([_shift(mask, o) for o in offs], 2) & mask[..., None]  # [B, T, K]
                nb_g = torch.stack([_shift(g, o) for o in offs], 2)
                a = (self.att(g)[:, :, None] * nb_g).sum(-1) + self.key(nb_g).squeeze(-1)
                alpha = torch.softmax(torch.where(ok, a, torch.full_like(a, -1e9)), -1) * ok
                # relation of each edge; edges are weighted by attention alone (no 1/c_{i,r})
                nb_p = torch.stack([_shift(pc, o) for o in offs], 2)
                direction = torch.tensor([0 if o >= 0 else 1 for o in offs])[None, None, :]
                r = direction * P * P + nb_p * P + pc[..., None]
                msg_all = self.rel(g).view(B, T, R, h)  # every node's message under every relation
                agg = self.root1(g)
                for j, o in enumerate(offs):  # one offset at a time: no [B, T, K, R, h] tensor
                    src = _shift(msg_all, o)
                    m = torch.gather(src, 2, r[:, :, j, None, None].expand(-1, -1, 1, h)).squeeze(2)
                    agg = agg + alpha[:, :, j, None] * m
                h1 = torch.relu(agg) * mask[..., None]
                nb_h = torch.stack([_shift(h1, o) for o in offs], 2)
                h2 = torch.relu(self.w2((nb_h * ok[..., None]).sum(2)) + self.root2(h1))
                return self.out(torch.cat([g, h2], -1))

        return Net()


CONTEXT_HEADS = (WindowHead, GRUContextHead, DialogueRNNHead, DialogueGCNHead)


__all__ = ["Block", "DialogueOrder", "ContextHead", "CONTEXT_HEADS", "CONTEXTS",
           *[h.__name__ for h in CONTEXT_HEADS]]
