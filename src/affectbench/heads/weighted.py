"""The weighted-layer adapter (SUPERB style): a learned softmax mix of an encoder's layers, then a linear layer.

Input rows hold every hidden state of one encoder, layer-major, as ``hf-audio`` / ``hf-text``
give them with ``layer = "all"``: ``(n, L * D)`` is read as ``(n, L, D)``. The head learns one
logit per layer; ``softmax(logits)`` weighs the layers (uniform at the start), the weighted sum
goes through one ``nn.Linear``. The layer logits are not weight-decayed (decay would pull the
mix towards uniform); the linear layer is.

The layer mix makes the loss non-convex, so this head always takes :class:`LinearAdapter`'s
mini-batch recipe (its ``solver = "adamw"``), never the convex L-BFGS fit: AdamW (``epochs``, ``lr``,
``weight_decay``, ``batch_size``), early stopping on validation UAR (macro-F1 for multi-label,
mean CCC for regression) with ``patience``, best weights restored, every random choice seeded by
``seed``. With ``refit`` it retrains, same seed, on training + validation rows for the epoch
count chosen on validation. Multi-label thresholds and the interface are :class:`LinearAdapter`'s;
``state()`` adds the learned layer weights (they sum to 1) and the layer that weighs most.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import SpecError
from .linear import LinearAdapter


_CLASS = None


def _layers_class():
    """The torch module, built on first use so that importing the heads does not import torch."""
    global _CLASS
    if _CLASS is None:
        import torch

        class WeightedLayers(torch.nn.Module):
            def __init__(self, n_layers: int, dim: int, k: int):
                super().__init__()
                self.n_layers, self.dim = n_layers, dim
                self.layer_logits = torch.nn.Parameter(torch.zeros(n_layers))
                self.linear = torch.nn.Linear(dim, k)

            def layer_weights(self):
                return torch.softmax(self.layer_logits, 0)

            def forward(self, x):
                x = x.reshape(x.shape[0], self.n_layers, self.dim)
                return self.linear(torch.einsum("l,nld->nd", self.layer_weights(), x))

        WeightedLayers.__module__ = __name__
        WeightedLayers.__qualname__ = "WeightedLayers"
        _CLASS = WeightedLayers
    return _CLASS


def __getattr__(name):  # a pickled head finds its module class here
    if name == "WeightedLayers":
        return _layers_class()
    raise AttributeError(name)


def _module(n_layers: int, dim: int, k: int):
    return _layers_class()(n_layers, dim, k)


class WeightedLayerAdapter(LinearAdapter):
    #: changes whenever training changes, so that cached runs of the old recipe are not reused
    VERSION = "1"

    # The parameters are spelt out (not **kwargs) because heads.make_head passes each head only
    # the spec options its signature names; a test checks they cover LinearAdapter's.
    def __init__(self, n_layers: int, *, epochs: int = 100, lr: float = 1e-2, weight_decay: float = 0.1,
                 batch_size: int = 128, patience: int = 20, class_balanced: bool = False,
                 multilabel: bool = False, threshold: str = "per_class", seed: int = 0,
                 regression: bool = False, refit: bool | None = None, l2: float | None = None,
                 l2_grid: tuple | list | None = None, solver: str = "auto", select: str = "loss"):
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
            raise SpecError(f"head 'weighted': n_layers must be a positive integer (the extractor's "
                            f"n_layers, with layer = \"all\"), got {n_layers!r}")
        if l2 is not None or l2_grid is not None or solver == "lbfgs":
            # the layer mix makes the loss non-convex: this head keeps AdamW with weight_decay
            raise SpecError("head 'weighted' trains with AdamW and weight_decay; l2, l2_grid and "
                            "solver = \"lbfgs\" belong to the linear head")
        super().__init__(epochs=epochs, lr=lr, weight_decay=weight_decay, batch_size=batch_size,
                         patience=patience, class_balanced=class_balanced, multilabel=multilabel,
                         threshold=threshold, seed=seed, regression=regression, refit=bool(refit))
        self.n_layers = n_layers

    def _check(self, X):
        if sp.issparse(X):
            raise SpecError("head 'weighted' takes the dense layer features of one encoder "
                            "(hf-audio/hf-text with layer = \"all\"), not sparse features such as TF-IDF")
        if X.ndim != 2 or X.shape[1] % self.n_layers:
            raise SpecError(f"head 'weighted': features of width {X.shape[1]} cannot be split into "
                            f"{self.n_layers} layers. Use exactly one extractor with layer = \"all\" and "
                            f"pass its n_layers")
        return X.shape[1] // self.n_layers

    def _check_input(self, X) -> None:
        self._check(X)

    def _build(self, d: int, k: int):
        # The layer logits are not weight-decayed (decay would pull the mix towards uniform).
        model = _module(self.n_layers, d // self.n_layers, k)
        return model, [([model.layer_logits], 0.0), (list(model.linear.parameters()), self.wd)]

    def _solver_for(self, n: int) -> str:
        return "adamw"

    def layer_weights(self) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.model.layer_weights().numpy().astype(np.float64)

    def state(self) -> dict:
        w = self.layer_weights()
        return {**super().state(), "layer_weights": [round(float(v), 6) for v in w],
                "top_layer": int(w.argmax())}
