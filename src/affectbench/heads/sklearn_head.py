"""scikit-learn logistic regression, for comparison with the linear adapter."""
from __future__ import annotations

import numpy as np

from .linear import LinearAdapter


class LogRegHead(LinearAdapter):
    """L2 logistic regression (lbfgs). Multi-label: one-vs-rest, thresholds chosen on valid.
    Regression targets: ridge regression (alpha = 1/C)."""

    #: changes whenever training changes, so that cached runs of the old recipe are not reused
    VERSION = "2"  # 2: trains on train + validation (nothing is chosen on validation)

    def __init__(self, *, C: float = 1.0, max_iter: int = 2000, class_balanced: bool = False,
                 multilabel: bool = False, threshold: str = "per_class", seed: int = 0,
                 regression: bool = False):
        self.C, self.max_iter = C, max_iter
        self.class_balanced, self.multilabel = class_balanced, multilabel
        self.threshold, self.seed = threshold, seed
        self.regression = regression

    def fit(self, X, y, Xv=None, yv=None, n_classes=None):
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        has_valid = Xv is not None and Xv.shape[0] > 0
        self.k = n_classes or (y.shape[1] if (self.multilabel or self.regression) else int(y.max()) + 1)
        if has_valid and not self.multilabel:
            # Nothing is chosen on validation here (C is fixed), so the validation speakers are
            # training data: leaving them out would handicap the reference against the adapter.
            X, y = _stack(X, Xv), np.concatenate([np.asarray(y), np.asarray(yv)])
        self.trained_on = "train+valid" if has_valid and not self.multilabel else "train"

        if self.regression:  # the linear-regression counterpart: ridge with alpha = 1/C
            from sklearn.linear_model import Ridge

            self.clf = Ridge(alpha=1.0 / self.C).fit(X, np.asarray(y, float))
            self.best_valid, self.epochs_run = None, None
            return self
        lr = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.seed,
                                class_weight="balanced" if self.class_balanced else None)
        if self.multilabel:
            self.clf = OneVsRestClassifier(lr, n_jobs=1).fit(X, np.asarray(y, int))
            self._choose_thresholds(Xv if has_valid else X, yv if has_valid else y)
        else:
            self.clf = lr.fit(X, y)
        self.best_valid, self.epochs_run = None, None
        return self

    def predict_proba(self, X):
        if self.regression:
            P = self.clf.predict(X)
            return P.reshape(len(P), -1)
        P = self.clf.predict_proba(X)
        if self.multilabel:
            return P
        full = np.zeros((P.shape[0], self.k))
        full[:, self.clf.classes_] = P  # a class absent from training gets probability 0
        return full

    def state(self):
        return {"solver": "lbfgs", "C": self.C, "trained_on": self.trained_on,
                **({"thresholds": [float(t) for t in self.thresholds]} if self.multilabel else {})}


def _stack(A, B):
    import scipy.sparse as sp

    if sp.issparse(A) or sp.issparse(B):
        return sp.vstack([sp.csr_matrix(A), sp.csr_matrix(B)]).tocsr()
    return np.vstack([A, B])
