"""A fitted head as JSON-able settings plus named arrays (no pickle), and back.

Every head kind is covered: the linear adapter (L-BFGS weights or its AdamW ``nn.Linear``),
the weighted-layer adapter, scikit-learn's logistic / ridge regression (coefficients as arrays,
estimators refilled attribute by attribute), and every fusion head (its ``torch.nn.Module``'s
``state_dict`` plus the constructor options and block signature ``_build`` needs to make the
same module again). The arrays keep their dtype, so a reloaded head gives bit-identical
probabilities.
"""
from __future__ import annotations

import numpy as np

from ..errors import SpecError


def _np(t) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy()).copy()


def _module_arrays(module, prefix: str) -> dict:
    return {f"{prefix}{k}": _np(v) for k, v in module.state_dict().items()}


def _load_module(module, arrays: dict, prefix: str) -> None:
    import torch

    state = {k[len(prefix):]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith(prefix)}
    module.load_state_dict(state, strict=True)
    module.eval()


def _target_arrays(head, arrays: dict) -> None:
    if getattr(head, "regression", False):
        arrays["y_mu"], arrays["y_sd"] = np.asarray(head.y_mu), np.asarray(head.y_sd)
    if getattr(head, "multilabel", False) and hasattr(head, "thresholds"):
        arrays["thresholds"] = np.asarray(head.thresholds, np.float64)


def _restore_targets(head, arrays: dict) -> None:
    if "y_mu" in arrays:
        head.y_mu, head.y_sd = arrays["y_mu"], arrays["y_sd"]
    if "thresholds" in arrays:
        head.thresholds = arrays["thresholds"]


def head_to_arrays(head) -> tuple[dict, dict]:
    """(settings for model.json, arrays for the weights file) of a fitted head."""
    from .fusion_utt import LateHead
    from .sklearn_head import LogRegHead
    from .train import FusionHead

    meta, arrays = {"k": int(head.k)}, {}
    _target_arrays(head, arrays)
    if isinstance(head, FusionHead):
        meta.update(options=dict(head.options), names=list(head.names_), modalities=list(head.modalities_),
                    signature=[[n, int(d)] for n, d in head.signature_])
        arrays.update(_module_arrays(head.model, "model."))
        if isinstance(head, LateHead) and head.stack_ is not None:
            arrays["stack.w"], arrays["stack.b"] = _np(head.stack_[0]), _np(head.stack_[1])
        meta["stack_state"] = getattr(head, "stack_state", None)
    elif isinstance(head, LogRegHead):
        meta.update(_sklearn_arrays(head.clf, arrays), trained_on=head.trained_on)
    else:  # LinearAdapter and WeightedLayerAdapter
        meta["solver"] = head.solver_
        if head.solver_ == "lbfgs":
            arrays["w"], arrays["scale"] = np.asarray(head.w_), np.asarray([head._scale], np.float64)
        else:
            meta["d"] = int(head.model.linear.in_features * head.n_layers) if hasattr(head, "n_layers") \
                else int(head.model.in_features)
            arrays.update(_module_arrays(head.model, "model."))
    try:
        meta["fit_state"] = head.state()
    except Exception:  # the summary is for people; the arrays are what predicts
        meta["fit_state"] = None
    return meta, arrays


def head_from_arrays(head, meta: dict, arrays: dict):
    """Fill a freshly constructed head (``make_head`` with the saved options) with its weights."""
    from .fusion_utt import LateHead
    from .sklearn_head import LogRegHead
    from .train import FusionHead

    head.k = int(meta["k"])
    _restore_targets(head, arrays)
    if isinstance(head, FusionHead):
        import torch

        head.names_, head.modalities_ = list(meta["names"]), list(meta["modalities"])
        head.signature_ = [(n, int(d)) for n, d in meta["signature"]]
        head.gen = torch.Generator().manual_seed(int(head.seed))
        head.model = head._build([d for _, d in head.signature_], head.k)
        head.model.gen = head.gen
        _load_module(head.model, arrays, "model.")
        if isinstance(head, LateHead):
            head.stack_ = ((torch.from_numpy(arrays["stack.w"]), torch.from_numpy(arrays["stack.b"]))
                           if "stack.w" in arrays else None)
            head.stack_state = meta.get("stack_state")
        head.best_valid = head.best_epoch = head.epochs_run = None
        head.missing_train = {}
    elif isinstance(head, LogRegHead):
        head.clf = _sklearn_from(meta, arrays, head)
        head.trained_on = meta.get("trained_on")
    else:
        head.solver_ = meta["solver"]
        if head.solver_ == "lbfgs":
            head.w_, head._scale = arrays["w"], float(arrays["scale"][0])
        else:
            head.model, _ = head._build(int(meta["d"]), head.k)
            _load_module(head.model, arrays, "model.")
    return head


# ---- scikit-learn estimators as arrays --------------------------------------------------------
def _sklearn_arrays(clf, arrays: dict) -> dict:
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.multiclass import OneVsRestClassifier

    if isinstance(clf, Ridge):
        arrays["coef"], arrays["intercept"] = np.asarray(clf.coef_), np.atleast_1d(np.asarray(clf.intercept_))
        return {"estimator": "ridge", "n_features": int(clf.n_features_in_)}
    if isinstance(clf, LogisticRegression):
        arrays["coef"], arrays["intercept"] = clf.coef_, clf.intercept_
        arrays["classes"] = np.asarray(clf.classes_, np.int64)
        return {"estimator": "logistic", "n_features": int(clf.n_features_in_)}
    if isinstance(clf, OneVsRestClassifier):
        consts = []
        for j, est in enumerate(clf.estimators_):
            if isinstance(est, LogisticRegression):
                arrays[f"ovr.{j}.coef"], arrays[f"ovr.{j}.intercept"] = est.coef_, est.intercept_
                arrays[f"ovr.{j}.classes"] = np.asarray(est.classes_, np.int64)
                consts.append(None)
            else:  # sklearn's _ConstantPredictor: a label never (or always) positive in training
                consts.append(float(np.ravel(est.y_)[0]))
        return {"estimator": "one_vs_rest", "n_features": int(clf.n_features_in_), "constant": consts}
    raise SpecError(f"cannot save a logreg head holding {type(clf).__name__}")


def _logistic(head, coef, intercept, classes, n_features):
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=head.C, max_iter=head.max_iter, random_state=head.seed,
                            class_weight="balanced" if head.class_balanced else None)
    lr.coef_, lr.intercept_, lr.classes_ = np.array(coef), np.array(intercept), np.array(classes)
    lr.n_features_in_, lr.n_iter_ = n_features, np.zeros(1, np.int32)
    return lr


def _sklearn_from(meta: dict, arrays: dict, head):
    est, nf = meta["estimator"], int(meta["n_features"])
    if est == "ridge":
        from sklearn.linear_model import Ridge

        r = Ridge(alpha=1.0 / head.C)
        coef, icpt = np.array(arrays["coef"]), np.array(arrays["intercept"])
        r.coef_, r.intercept_ = coef, (icpt if coef.ndim == 2 else float(icpt[0]))
        r.n_features_in_ = nf
        return r
    if est == "logistic":
        return _logistic(head, arrays["coef"], arrays["intercept"], arrays["classes"], nf)
    from sklearn.multiclass import OneVsRestClassifier, _ConstantPredictor
    from sklearn.preprocessing import LabelBinarizer

    ests = []
    for j, c in enumerate(meta["constant"]):
        if c is None:
            ests.append(_logistic(head, arrays[f"ovr.{j}.coef"], arrays[f"ovr.{j}.intercept"],
                                  arrays[f"ovr.{j}.classes"], nf))
        else:
            cp = _ConstantPredictor()
            cp.y_ = np.array([c])
            ests.append(cp)
    ovr = OneVsRestClassifier(_logistic(head, np.zeros((1, nf)), np.zeros(1), np.arange(2), nf), n_jobs=1)
    ovr.estimators_ = ests
    ovr.label_binarizer_ = LabelBinarizer(sparse_output=True).fit(np.eye(len(ests), dtype=int))
    ovr.n_features_in_ = nf
    return ovr
