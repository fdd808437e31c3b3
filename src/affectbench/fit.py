"""The model a spec ships: fitted on all of the protocol's training data, vouched for by its CV run.

``train`` runs (or reuses, by the run identity) the cross-validated run first: its pooled
metrics are the model's card. The final fit then uses the runner's own stages — the same
feature blocks, the same per-block normalisers (``fold_matrix`` / ``fold_blocks`` collecting
their :class:`~affectbench.normalize.BlockFit`), the same ``fit_head`` — on one fold whose
training side is every training group (the official train split), validation carved from it
as in every fold (``protocol.final_fold``), and no test rows.
"""
from __future__ import annotations

from pathlib import Path

from .model import TASKS, Model, save_model


def fit_final(spec, *, reporter=None, run_result=None) -> Model:
    from . import runner as R
    from .protocol import final_fold
    from .ui import Reporter

    rep = reporter or Reporter()
    data = R.load_data(spec, rep)
    plans = R.plan_features(spec, data)
    tr = R.training_set(spec, data, plans, rep)
    proto = R.resolve_protocol(spec, data.corpus)
    fold = final_fold(tr.df, proto["kind"], group=proto["group"], valid_groups=spec.protocol.valid_groups,
                      seed=spec.seed, valid_unit=spec.protocol.valid_unit)
    fitted: list = []
    X = (R.fold_blocks if tr.block_head else R.fold_matrix)(spec, tr.fs, fold, tr.speakers, tr.texts, tr.ids, fitted)
    Yt = tr.Y if tr.Y_train is None else tr.Y_train
    upd = rep.task("final model", 1)
    head = R.fit_head(spec, X, Yt, fold, len(tr.classes), tr.task, tr.n_layers)
    upd(1)
    card = {"corpus": data.corpus.name, "view": data.view.name, "data_fingerprint": data.fingerprint,
            "protocol": proto["kind"],
            "trained_on": {"rows": int(len(fold.train)), "validation_rows": int(len(fold.valid)),
                           "validation_groups": list(fold.valid_groups), "validation_unit": fold.meta.get("valid_unit"),
                           "skipped": int(tr.dropped["total"])},
            "spec": spec.deciding(),  # not where this machine keeps the corpus or writes runs
            "run_identity": R.identity_hash(R.run_identity(spec, data, plans))}
    if data.train_view is not None:
        card["trained_on"]["label_source"] = data.train_view.name
    if run_result is not None:
        m = run_result.metrics
        card.update(run=str(run_result.folder.name), cv_metrics=m.get("pooled"), cv_fold_mean=m.get("fold_mean"),
                    cv_tested=m.get("tested"))
    opts = R.head_options(spec, tr.task, tr.n_layers)
    return Model(name=spec.name, labels=tr.classes, task=TASKS[tr.task], extractors=[b.extractor for b in tr.fs.blocks],
                 blocks=fitted, head=head, head_kind=spec.head.kind, head_options=_accepted(spec.head.kind, opts),
                 card=card)


def _accepted(kind: str, opts: dict) -> dict:
    """The options the head's constructor takes (what ``make_head`` passes it)."""
    import inspect

    from .heads import HEADS

    params = inspect.signature(HEADS[kind].__init__).parameters
    return {k: v for k, v in opts.items() if k in params}


def train(spec, output, *, reporter=None, force: bool = False):
    """The cross-validated run (reused when finished), then the final model written to ``output``.
    Returns (model folder, run result)."""
    from .runner import run

    result = run(spec, force=force, reporter=reporter)
    return save_after_run(spec, result, output, reporter=reporter), result


def save_after_run(spec, result, output, *, reporter=None) -> Path:
    model = fit_final(spec, reporter=reporter, run_result=result)
    return save_model(model, output)
