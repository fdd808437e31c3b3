import numpy as np

from affectbench.heads import LinearAdapter, LogRegHead, make_head


def blobs(n=300, k=3, d=10, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2.5, (k, d))
    y = rng.integers(0, k, n)
    return (centers[y] + rng.normal(0, 1, (n, d))).astype(np.float32), y


def test_linear_adapter_learns_and_is_deterministic_per_seed():
    X, y = blobs()
    Xv, yv = blobs(seed=1)
    a = LinearAdapter(seed=0).fit(X[:200], y[:200], X[200:250], y[200:250])
    b = LinearAdapter(seed=0).fit(X[:200], y[:200], X[200:250], y[200:250])
    np.testing.assert_array_equal(a.predict_proba(X[250:]), b.predict_proba(X[250:]))
    assert (a.predict(X[250:]) == y[250:]).mean() > 0.9
    c = LinearAdapter(seed=1).fit(X[:200], y[:200], X[200:250], y[200:250])
    assert not np.array_equal(a.predict_proba(X[250:]), c.predict_proba(X[250:]))
    assert a.state()["best_valid"] > 0.9


def test_class_balanced_loss_lifts_the_minority_class():
    rng = np.random.default_rng(0)
    X0 = rng.normal(0, 1, (400, 2))
    X1 = rng.normal(1.2, 1, (40, 2))
    X = np.vstack([X0, X1]).astype(np.float32)
    y = np.r_[np.zeros(400, int), np.ones(40, int)]
    plain = LinearAdapter(seed=0, epochs=60).fit(X, y)
    bal = LinearAdapter(seed=0, epochs=60, class_balanced=True).fit(X, y)
    rec = lambda m: (m.predict(X1.astype(np.float32)) == 1).mean()
    assert rec(bal) > rec(plain) + 0.2


def test_multilabel_thresholds_chosen_on_validation():
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (600, 8)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0.5, X[:, 1] > 1.0, X[:, 2] + X[:, 3] > 0], 1)
    for kind in ("global", "per_class"):
        h = LinearAdapter(multilabel=True, threshold=kind, seed=0).fit(X[:400], Y[:400], X[400:500], Y[400:500])
        assert h.thresholds.shape == (3,)
        if kind == "global":
            assert len(set(h.thresholds)) == 1
        P = h.predict(X[500:])
        assert P.dtype == bool and ((P == Y[500:]).mean() > 0.85)


def test_logreg_head_and_factory_filter_options():
    X, y = blobs()
    h = make_head("logreg", C=0.5, epochs=3, lr=0.1, seed=0)  # epochs/lr belong to the linear head
    assert isinstance(h, LogRegHead)
    h.fit(X[:200], y[:200])
    assert (h.predict(X[200:]) == y[200:]).mean() > 0.9
    assert h.predict_proba(X[:5]).shape == (5, 3)


def test_regression_head_recovers_a_linear_target():
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (500, 6)).astype(np.float32)
    Y = np.stack([2 * X[:, 0] + 3, -X[:, 1] + 0.5 * X[:, 2]], 1) + rng.normal(0, 0.1, (500, 2))
    for kind in ("linear", "logreg"):
        h = make_head(kind, regression=True, seed=0, epochs=200)
        h.fit(X[:350], Y[:350], X[350:420], Y[350:420], n_classes=2)
        P = h.predict(X[420:])
        assert P.shape == (80, 2)
        assert np.abs(P - Y[420:]).mean() < 0.2


def test_adamw_matches_torch_optim_adamw():
    import torch

    from affectbench.heads.linear import AdamW

    torch.manual_seed(0)
    a = torch.nn.Linear(5, 3)
    b = torch.nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    ours = AdamW([(list(a.parameters()), 0.1)], lr=0.01)
    ref = torch.optim.AdamW(b.parameters(), lr=0.01, weight_decay=0.1)
    x, y = torch.randn(32, 5), torch.randint(0, 3, (32,))
    for _ in range(25):
        for model, opt in ((a, ours), (b, ref)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)
