"""Heads trained on frozen features. The linear-classifier adapter is the reference head."""
from __future__ import annotations

from ..errors import UnknownNameError
from .linear import LinearAdapter  # noqa: F401
from .sklearn_head import LogRegHead  # noqa: F401
from .weighted import WeightedLayerAdapter  # noqa: F401
from .fusion_utt import (AttentionHead, ConcatHead, LateHead, LMFHead, MISAHead,  # noqa: F401
                         MMINHead, TFNHead)
from .fusion_frame import GraphMFNHead, MCTNHead, MFMHead, MFNHead, MulTHead  # noqa: F401
from .context import CONTEXT_HEADS, DialogueOrder  # noqa: F401

HEADS = {"linear": LinearAdapter, "weighted": WeightedLayerAdapter, "logreg": LogRegHead}
# Fusion heads take feature blocks (``takes_blocks``); see heads/train.py for their shared loop.
HEADS.update({h.kind: h for h in (ConcatHead, LateHead, TFNHead, LMFHead, MISAHead, MMINHead,
                                  AttentionHead, MulTHead, MFNHead, GraphMFNHead, MFMHead, MCTNHead)})
# Context heads take blocks and the dialogue order of their rows (heads/context.py).
HEADS.update({h.kind: h for h in CONTEXT_HEADS})


def make_head(kind: str, **kwargs):
    if kind not in HEADS:
        raise UnknownNameError("head", kind, HEADS)
    import inspect

    # The spec's [head] table holds options of every head kind; each head takes its own.
    accepted = inspect.signature(HEADS[kind].__init__).parameters
    return HEADS[kind](**{k: v for k, v in kwargs.items() if k in accepted})
