"""The human-readable side of a run: report.md and the confusion-matrix plot."""
from __future__ import annotations

from pathlib import Path


def _ci(m: dict, key: str) -> str:
    """``0.612 [0.501, 0.713]``, or the bare value where there is no interval (``ci`` may be None)."""
    v = m[key]
    ci = (m.get("ci") or {}).get(key)
    return f"{v:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{v:.3f}"


def plot_confusion(folder: Path, pooled: dict) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    classes = pooled["classes"]
    if "confusion" in pooled:
        C = np.asarray(pooled["confusion"], float)
        R = C / np.maximum(C.sum(1, keepdims=True), 1)
        fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(classes), 0.8 + 0.6 * len(classes)), dpi=120)
        ax.imshow(R, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(j, i, f"{int(C[i, j])}\n{R[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if R[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
        ax.set_yticks(range(len(classes)), classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"pooled: WAR {pooled['war']:.3f}  UAR {pooled['uar']:.3f}", fontsize=9)
        name = "confusion.png"
    else:
        f1 = [pooled["per_class_f1"][c] for c in classes]
        fig, ax = plt.subplots(figsize=(8, 0.25 * len(classes) + 1), dpi=120)
        ax.barh(range(len(classes)), f1)
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("F1")
        ax.set_title(f"per-class F1 (macro-F1 {pooled['macro_f1']:.3f})", fontsize=9)
        name = "per_class_f1.png"
    fig.tight_layout()
    fig.savefig(folder / name)
    plt.close(fig)
    return name


def _protocol_line(proto: dict) -> str:
    if proto["kind"] == "official":
        return "- protocol: official split (train / dev for validation / test)"
    n = proto["valid_groups"]
    unit = proto.get("valid_unit") or "group"
    where = "from the training groups" if unit == "speaker" and proto["group"] != "speaker" else "from training"
    valid = (f"validation: {n} {unit}(s) per fold {where} (never the test fold)" if n
             else "no validation set (fixed number of epochs)")
    return f"- protocol: `{proto['kind']}` over {proto['group']}, {len(proto['folds'])} fold(s); {valid}"


def write_report(folder: Path, metrics: dict, info: dict) -> Path:
    p = metrics["pooled"]
    task = metrics["task"]
    multilabel = task == "multilabel"
    c = info["corpus"]
    proto = info["protocol"]
    lines = [f"# {info['spec']['name']}", ""]
    if info["spec"].get("description"):
        lines += [info["spec"]["description"], ""]
    tested = info.get("tested", {})
    lines += [
        f"- corpus: **{c['name']}** (view `{c['view']}`: {', '.join(c['classes'])}), "
        f"{c['n']} utterances; data fingerprint `{info['data_fingerprint']}`",
        f"- tested: **{tested.get('n_tested', p.get('n'))} of {tested.get('n_view', c['n'])}** utterances "
        f"in the view ({tested.get('n_corpus', '?')} in the corpus copy), each exactly once",
        _protocol_line(proto),
        f"- speaker independent: {'yes' if proto['speaker_independent'] else 'no'}; test speakers also "
        f"seen in training: {sum(f['test_speakers_seen_in_training'] for f in proto['folds'])}",
        f"- features: {', '.join(f['extractor'] for f in info['features'])}; normalisation: "
        f"{info['normalization']['description']}"
        + ("; blocks scaled to unit norm before concatenation" if len(info["features"]) > 1 else ""),
        f"- head: `{info['spec']['head']['kind']}`; seed {info['spec']['seed']}"
        + ("; refitted on train + validation at the chosen settings" if proto.get("refit") else ""),
    ]
    if tested.get("label_source"):
        ls = tested["label_source"]
        lines.append(f"- labels: trained on `{ls['train']}`, scored on `{ls['score']}`"
                     + (f" ({ls['without_training_label']} utterance(s) without a training label left out)"
                        if ls["without_training_label"] else ""))
    if tested.get("context"):
        cx = tested["context"]
        lines.append(f"- conversation context: **{cx['turns']}** — {cx['description']}; "
                     f"{cx['dialogues']} dialogues, each wholly in train, validation or test")
    for name, n in (tested.get("missing_modality") or {}).items():
        if n:
            lines.append(f"- **{n} utterance(s) lacked `{name}`** (missing or unreadable); the head masked it")
    if info.get("transductive"):
        lines.append("- **transductive:** per-speaker normalisation uses the test speakers' own unlabelled "
                     "features; not comparable with inductive (fold-normalised) results")
    dropped = info.get("dropped", {})
    for f in info["features"]:
        if f.get("stats_text"):
            lines.append(f"- {f['extractor']}: {f['stats_text']}")
    if dropped.get("total"):
        by = dropped.get("by_split") or dropped.get("by_speaker") or {}
        lines.append(f"- **dropped {dropped['total']} utterance(s)** whose media could not be used "
                     f"({', '.join(f'{k}: {v}' for k, v in by.items())}; files listed below)")
    for cav in c["caveats"]:
        lines.append(f"- **caveat:** {cav}")
    for prob in c["problems"]:
        lines.append(f"- **incomplete copy:** {prob}")
    for w in c.get("warnings", []):
        lines.append(f"- **warning:** {w}")
    lines += ["", "## Pooled over test folds", ""]
    from .metrics import MULTI, REGRESSION, SINGLE

    keys = {"multilabel": MULTI, "regression": REGRESSION, "single_label": SINGLE}[task]
    ci = int(round(100 * p.get("ci_level", 0.95)))
    unit = {"speaker": "over speakers", "cluster": "over clusters"}.get(p.get("ci_unit"), "over utterances")
    lines += ["| metric | value [" + f"{ci}% bootstrap CI {unit}] |", "|---|---|"]
    lines += [f"| {k.upper() if k in ('war', 'uar') else k} | {_ci(p, k)} |" for k in keys]
    lines += ["", "## Per fold", "",
              "| fold | n | " + " | ".join(k.upper() if k in ("war", "uar") else k for k in keys) + " |",
              "|---|---|" + "---|" * len(keys)]
    for f in metrics["folds"]:
        lines.append(f"| {f['fold']} | {f['n']} | " + " | ".join(f"{f[k]:.3f}" for k in keys) + " |")
    fm = metrics["fold_mean"]
    lines.append("| mean ± sd | | " + " | ".join(f"{fm[k]['mean']:.3f} ± {fm[k]['std']:.3f}" for k in keys) + " |")
    if info.get("class_convention") and task == "single_label":
        lacking = [f["fold"] for f in metrics["folds"] if f.get("classes_absent")]
        lines += ["", f"Class convention: {info['class_convention']}."
                  + (f" Folds lacking a class in their test truth: {', '.join(lacking)}." if lacking else "")]
    if task == "regression":
        lines += ["", "## Per target (pooled)", "", "| target | CCC | Pearson r | MAE |", "|---|---|---|---|"]
        for t, v in p["per_target"].items():
            lines.append(f"| {t} | {v['ccc']:.3f} | {v['pearson']:.3f} | {v['mae']:.3f} |")
    elif not multilabel:
        lines += ["", "## Per-class recall (pooled)", "", "| class | support | recall |", "|---|---|---|"]
        for cl in p["classes"]:
            r = p["per_class_recall"][cl]
            lines.append(f"| {cl} | {p['support'][cl]} | {'–' if r is None else f'{r:.3f}'} |")
    else:
        lines += ["", "## Per-class F1 (pooled)", "", "| class | support | F1 |", "|---|---|---|"]
        for cl in p["classes"]:
            lines.append(f"| {cl} | {p['support'][cl]} | {p['per_class_f1'][cl]:.3f} |")
    img = plot_confusion(folder, p) if task != "regression" else None
    if img:
        lines += ["", f"![{img}]({img})"]
    if info["failures"]:
        lines += ["", "## Skipped files", ""] + [f"- `{f['path']}`: {f['problem']}" for f in info["failures"]]
    lines += ["", "## Reproduce", "", "Spec: `spec.toml`; folds, fingerprints and versions: `run.json`; "
              "predictions: `predictions.parquet`.", "",
              "Versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if k != "platform"), ""]
    out = folder / "report.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    return out
