"""WeightedLayerAdapter: learns which layer carries the signal, same interface as LinearAdapter."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from affectbench.errors import SpecError  # noqa: E402
from affectbench.heads.linear import LinearAdapter  # noqa: E402
from affectbench.heads.weighted import WeightedLayerAdapter  # noqa: E402

L, D = 4, 8


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # tiny matrices: one intra-op thread is much faster than two on a loaded 2-core machine
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _layers(n, informative=2, seed=0, k=3):
    """n samples of L layers × D dims; only layer `informative` depends on the class."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    X = rng.standard_normal((n, L, D)).astype(np.float32)
    centres = np.random.default_rng(99).standard_normal((k, D)).astype(np.float32) * 1.5  # shared by splits
    X[:, informative] += centres[y]
    return X.reshape(n, L * D), y


def test_learns_the_informative_layer():
    X, y = _layers(400)
    Xv, yv = _layers(200, seed=1)
    Xt, yt = _layers(200, seed=2)
    h = WeightedLayerAdapter(n_layers=L, epochs=30, lr=5e-2, seed=0).fit(X, y, Xv, yv, n_classes=3)
    st = h.state()
    w = np.array(st["layer_weights"])
    assert w.shape == (L,) and abs(w.sum() - 1) < 1e-5 and (w > 0).all()
    assert st["top_layer"] == 2 and w[2] > 0.4  # uniform would be 0.25
    assert {"epochs_run", "best_valid"} <= set(st)
    P = h.predict_proba(Xt)
    assert P.shape == (200, 3) and np.allclose(P.sum(1), 1, atol=1e-5)
    assert (h.predict(Xt) == yt).mean() > 0.7
    # same seed, same numbers
    h2 = WeightedLayerAdapter(n_layers=L, epochs=30, lr=5e-2, seed=0).fit(X, y, Xv, yv, n_classes=3)
    np.testing.assert_array_equal(h.predict_proba(Xt), h2.predict_proba(Xt))


def test_same_interface_as_linear_adapter_and_multilabel():
    assert issubclass(WeightedLayerAdapter, LinearAdapter)
    X, y = _layers(300)
    Y = np.stack([y == 0, y == 1, y != 1], 1)
    h = WeightedLayerAdapter(n_layers=L, epochs=10, multilabel=True, threshold="global", seed=0)
    h.fit(X[:200], Y[:200], X[200:], Y[200:], n_classes=3)
    pred = h.predict(X[200:])
    assert pred.shape == (100, 3) and pred.dtype == bool
    assert len(h.state()["thresholds"]) == 3 and len(h.state()["layer_weights"]) == L
    # no validation set: trains all epochs, still reports weights
    h3 = WeightedLayerAdapter(n_layers=L, epochs=3).fit(X, y, n_classes=3)
    assert h3.state()["best_valid"] is None and h3.epochs_run == 3


def test_refuses_features_that_are_not_layers():
    import scipy.sparse as sp

    with pytest.raises(SpecError, match="n_layers"):
        WeightedLayerAdapter(n_layers=0)
    X = np.zeros((10, 30), np.float32)
    with pytest.raises(SpecError, match="cannot be split into 4 layers"):
        WeightedLayerAdapter(n_layers=4, epochs=1).fit(X, np.zeros(10, int), n_classes=2)
    with pytest.raises(SpecError, match="not sparse"):
        WeightedLayerAdapter(n_layers=2, epochs=1).fit(sp.csr_matrix(X), np.zeros(10, int), n_classes=2)


def test_regression_targets():
    X, y = _layers(300)
    rng = np.random.default_rng(5)
    signal = X.reshape(-1, L, D)[:, 1, :2].sum(1)  # continuous target carried by layer 1
    Y = np.stack([signal, -signal + 0.1 * rng.standard_normal(len(signal))], 1).astype(np.float32)
    h = WeightedLayerAdapter(n_layers=L, epochs=30, lr=5e-2, regression=True, seed=0)
    h.fit(X[:200], Y[:200], X[200:250], Y[200:250])
    P = h.predict(X[250:])
    assert P.shape == (50, 2)
    assert np.corrcoef(P[:, 0], Y[250:, 0])[0, 1] > 0.8
    assert h.state()["top_layer"] == 1


def test_signature_names_every_linear_adapter_option():
    """heads.make_head passes a head only the options its signature names: none may hide in **kwargs."""
    import inspect

    lin = inspect.signature(LinearAdapter.__init__).parameters
    wl = inspect.signature(WeightedLayerAdapter.__init__).parameters
    assert set(lin) <= set(wl) and "n_layers" in wl
    assert not any(p.kind is p.VAR_KEYWORD for p in wl.values())
    for name, p in lin.items():
        assert wl[name].default == p.default, name


def test_a_trained_head_pickles():
    import pickle

    X, y = _layers(120)
    h = WeightedLayerAdapter(n_layers=L, epochs=2).fit(X, y, n_classes=3)
    h2 = pickle.loads(pickle.dumps(h))
    np.testing.assert_array_equal(h.predict_proba(X), h2.predict_proba(X))
