"""Caption metrics: the COCO-caption definitions, and the model-based ones from local folders.

BLEU-4, ROUGE-L (β = 1.2), CIDEr-D (σ = 6, clipped, × 10) and METEOR 1.5 come from
``pycocoevalcap`` (the coco-caption code; METEOR is its Java jar, kept running in one
process and reused across calls; with COCO's ``-norm`` for English, without it for
Chinese, because ``-norm`` splits every Han character and would undo jieba). They split on spaces, so captions are tokenised by us
first (:mod:`.text`). The model-based metrics need a local model folder each and never
download anything: BERTScore (``bert-score``, F1, max over references), SBERT similarity
and FENSE (Zhou et al. 2022: SBERT similarity × (1 − 0.9) when a fluency-error detector
gives P(error) > 0.9), CLAPScore (cosine of CLAP text embeddings, hypothesis vs each
reference, averaged) and SPIDEr (mean of CIDEr-D and SPICE; SPICE needs Stanford CoreNLP
jars that pycocoevalcap would download at run time, so a local SPICE folder is required).
"""
from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from ..spec import MetricModels  # noqa: F401  (re-exported: scoring takes it)
from .errors import CaptionError
from .text import TOKENIZERS, check_script, tokenize

LEXICAL = ("bleu_4", "rouge_l", "meteor", "cider_d")
MODEL_BASED = ("bertscore", "sbert_sim", "fense", "clapscore", "spider")
ALL = LEXICAL + MODEL_BASED
ALIASES = {"bleu4": "bleu_4", "bleu": "bleu_4", "rougel": "rouge_l", "rouge": "rouge_l",
           "cider": "cider_d", "ciderd": "cider_d", "fense": "fense", "spider": "spider",
           "clap": "clapscore", "clap_score": "clapscore", "bert_score": "bertscore"}
#: FENSE's published constants (Zhou et al. 2022; the fense / aac-metrics code)
FENSE_PENALTY, FENSE_THRESHOLD = 0.9, 0.9
#: bumped when a definition or the tokenisation changes: part of every caption run identity
METRICS_VERSION = "1"


def metric_names(names) -> list[str]:
    out = []
    for n in names:
        k = ALIASES.get(str(n).lower().replace("-", "_"), str(n).lower().replace("-", "_"))
        if k not in ALL:
            raise CaptionError(f"unknown caption metric '{n}'. Valid: {', '.join(ALL)}")
        out.append(k)
    return list(dict.fromkeys(out))


def score_captions(hyps: list[str], refs: list[list[str]], *, how: str = "words", metrics=LEXICAL,
                   models: MetricModels | None = None, source: str = "captions") -> dict:
    """Corpus scores (``corpus``) and per-caption scores (``items``) of ``hyps`` against ``refs``.

    An empty reference is an error (the truth would be unknown); an empty hypothesis scores
    0 on the lexical metrics and is counted in ``empty_hypotheses``.
    """
    if how not in TOKENIZERS:
        raise CaptionError(f"caption tokeniser '{how}' is not one of {', '.join(TOKENIZERS)}")
    if len(hyps) != len(refs):
        raise CaptionError(f"{source}: {len(hyps)} hypotheses but {len(refs)} reference sets")
    if not hyps:
        raise CaptionError(f"{source}: no captions to score")
    for i, r in enumerate(refs):
        if not r or not any(str(x).strip() for x in r):
            raise CaptionError(f"{source}: item {i} has no reference caption (all empty)")
    names = metric_names(metrics)
    if "meteor" in names:  # Java loads its tables while the Python metrics run
        meteor_server(how == "words")
    models = models or MetricModels()
    warnings = (check_script([h for h in hyps if h], how, f"{source} (hypotheses)")
                + check_script([x for r in refs for x in r], how, f"{source} (references)"))
    res = {i: [" ".join(tokenize(h or "", how))] for i, h in enumerate(hyps)}
    gts = {i: [" ".join(tokenize(x, how)) for x in r if str(x).strip()] for i, r in enumerate(refs)}
    out = {"corpus": {}, "items": {}, "tokenize": how, "n": len(hyps), "warnings": warnings,
           "empty_hypotheses": sum(1 for v in res.values() if not v[0]), "metrics_version": METRICS_VERSION}
    for name in names:
        if name == "meteor":
            corpus, items = _meteor(hyps, refs, res, gts, models, norm=how == "words")
        else:
            corpus, items = _ONE[name](hyps, refs, res, gts, models)
        out["corpus"][name] = float(corpus)
        out["items"][name] = [float(x) for x in items]
    return out


# ------------------------------------------------------------------------- COCO metrics
def _bleu(hyps, refs, res, gts, models):
    from pycocoevalcap.bleu.bleu import Bleu

    score, scores = Bleu(4).compute_score(gts, res, verbose=0)
    return score[3], scores[3]


def _rouge(hyps, refs, res, gts, models):
    from pycocoevalcap.rouge.rouge import Rouge

    score, scores = Rouge().compute_score(gts, res)
    return score, scores


def _cider(hyps, refs, res, gts, models):
    from pycocoevalcap.cider.cider import Cider

    score, scores = Cider().compute_score(gts, res)
    return score, scores


def _meteor(hyps, refs, res, gts, models, norm: bool = True):
    m = meteor_server(norm)
    clean = {i: [h.replace("|||", "") or "."] for i, (h,) in res.items()}  # an empty line ends the jar's input
    refs_ = {i: [r.replace("|||", "") or "." for r in v] for i, v in gts.items()}
    try:
        score, scores = m.compute_score(refs_, clean)
    except (ValueError, BrokenPipeError, OSError) as e:
        err = m.meteor_p.stderr.read1(2000).decode(errors="replace") if m.meteor_p.stderr else ""
        _METEOR.pop(norm, None)
        raise CaptionError(f"METEOR (the pycocoevalcap Java jar) failed: {e}; java said: {err.strip()[:300]}") from None
    empty = np.array([not h for (h,) in res.values()])
    scores = np.where(empty, 0.0, np.asarray(scores, float))
    return (float(scores.mean()) if empty.any() else score), scores


#: norm -> the running jar; -norm (COCO's setting) re-tokenises and splits every Han character,
#: so Chinese, already tokenised by us, is scored without it (jieba's words stay words)
_METEOR: dict = {}
_METEOR_LOCK = threading.Lock()


def meteor_server(norm: bool = True):
    """The METEOR process of this Python process (Java start-up is paid once per setting)."""
    with _METEOR_LOCK:
        m = _METEOR.get(norm)
        if m is not None and m.meteor_p.poll() is None:
            return m
        if shutil.which("java") is None:
            raise CaptionError("METEOR needs a Java runtime, and `java` is not on PATH: install one "
                               "(Debian/Ubuntu: apt-get install default-jre-headless; .ci/run does) or "
                               "leave 'meteor' out of the caption metrics")
        from pycocoevalcap.meteor import meteor as pm

        m = pm.Meteor.__new__(pm.Meteor)  # its scoring code, our command line
        m.meteor_cmd = ["java", "-jar", "-Xmx2G", pm.METEOR_JAR, "-", "-", "-stdio", "-l", "en"] + (
            ["-norm"] if norm else [])
        m.meteor_p = subprocess.Popen(m.meteor_cmd, cwd=os.path.dirname(os.path.abspath(pm.__file__)),
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        m.lock = threading.Lock()
        _METEOR[norm] = m
        return m


@atexit.register
def _close_meteor():
    for m in list(_METEOR.values()):
        try:
            m.meteor_p.stdin.close()
            m.meteor_p.kill()
            m.meteor_p.wait(timeout=5)
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass
    _METEOR.clear()


# ------------------------------------------------------------------------ model folders
def need_folder(path, metric: str, option: str, what: str) -> Path:
    """The model folder of a metric, or one error naming the metric, the option and the problem."""
    if not path:
        raise CaptionError(f"caption metric '{metric}' needs {what} as a local folder (caption.{option} = DIR "
                           f"in a spec, --{option.replace('_', '-')} DIR on the command line); none was "
                           "given (nothing is downloaded at run time)")
    p = Path(path).expanduser()
    if not p.is_dir():
        raise CaptionError(f"{p}: not a folder; caption metric '{metric}' needs {what} there ({option})")
    return p


_BERT_LAYERS = {"bert-base-chinese": 8, "bert-base-uncased": 9, "bert-base-multilingual-cased": 9,
                "roberta-large": 17, "roberta-base": 10, "chinese-roberta-wwm-ext": 8}


def bertscore_layer(folder: Path, layer: int | None) -> int:
    """The layer BERTScore reads: given, else bert-score's tuned layer for a known model name,
    else the last layer."""
    from transformers import AutoConfig

    if layer:
        return int(layer)
    cfg = AutoConfig.from_pretrained(folder)
    return _BERT_LAYERS.get(folder.name, cfg.num_hidden_layers)


def _bertscore(hyps, refs, res, gts, models):
    folder = need_folder(models.bertscore, "bertscore", "bertscore", "a BERT-like model (e.g. bert-base-chinese)")
    from bert_score import BERTScorer
    from transformers import AutoConfig

    layer = bertscore_layer(folder, models.bertscore_layer)
    scorer = BERTScorer(model_type=str(folder), num_layers=layer, device="cpu")
    limit = getattr(AutoConfig.from_pretrained(folder), "max_position_embeddings", 512)
    tok = scorer._tokenizer  # bert-score reads model_max_length; a folder without it says 10^30
    tok.model_max_length = min(int(tok.model_max_length or limit), int(limit))
    _, _, f1 = scorer.score([h or "" for h in hyps], [list(r) for r in refs], batch_size=64)
    f1 = f1.numpy().astype(float)
    return f1.mean(), f1


def _sbert_embed(folder: Path, texts: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    return model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)


def _mean_ref_sim(hyp_emb: np.ndarray, ref_emb: np.ndarray, refs) -> np.ndarray:
    out, k = np.zeros(len(refs)), 0
    for i, r in enumerate(refs):
        out[i] = float((ref_emb[k:k + len(r)] @ hyp_emb[i]).mean())
        k += len(r)
    return out


def _ref_similarity(embed, folder: Path, hyps, refs) -> np.ndarray:
    """Per hypothesis, the mean cosine to its references; one ``embed`` call for all texts."""
    flat = [x for r in refs for x in r]
    emb = embed(folder, [h or "" for h in hyps] + flat)
    return _mean_ref_sim(emb[:len(hyps)], emb[len(hyps):], refs)


def _sbert_sim(hyps, refs, res, gts, models):
    folder = need_folder(models.sbert, "sbert_sim", "sbert", "a sentence-transformers model")
    sim = _ref_similarity(_sbert_embed, folder, hyps, refs)
    return sim.mean(), sim


def error_probability(folder: Path, texts: list[str]) -> np.ndarray:
    """P(fluency error) per text from a sequence-classification folder: the label named
    'error' (sigmoid when multi-label, softmax otherwise), or the one logit (sigmoid)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    labels = {str(v).lower(): int(k) for k, v in model.config.id2label.items()}
    n = model.config.num_labels
    if n > 1 and "error" not in labels:
        raise CaptionError(f"{folder}: the FENSE error detector needs a label named 'error' "
                           f"(its labels: {', '.join(sorted(labels))})")
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            enc = tok(texts[i:i + 64], padding=True, truncation=True, max_length=64, return_tensors="pt")
            logits = model(**enc).logits
            if n == 1:
                p = torch.sigmoid(logits[:, 0])
            elif model.config.problem_type == "multi_label_classification":
                p = torch.sigmoid(logits[:, labels["error"]])
            else:
                p = torch.softmax(logits, -1)[:, labels["error"]]
            out.append(p.numpy())
    return np.concatenate(out).astype(float)


def _fense(hyps, refs, res, gts, models):
    sb = need_folder(models.sbert, "fense", "sbert", "a sentence-transformers model")
    ec = need_folder(models.fense_echecker, "fense", "fense_echecker",
                     "a fluency-error detector (sequence classification with an 'error' label)")
    sim = _ref_similarity(_sbert_embed, sb, hyps, refs)
    p_err = error_probability(ec, [h or "" for h in hyps])
    f = sim * (1.0 - FENSE_PENALTY * (p_err > FENSE_THRESHOLD))
    return f.mean(), f


def clap_text_embeddings(folder: Path, texts: list[str]) -> np.ndarray:
    import torch
    from transformers import AutoTokenizer, ClapModel

    tok = AutoTokenizer.from_pretrained(folder)
    model = ClapModel.from_pretrained(folder).eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            enc = tok(texts[i:i + 64], padding=True, truncation=True, return_tensors="pt")
            e = model.get_text_features(**enc)
            e = getattr(e, "pooler_output", e)
            out.append(torch.nn.functional.normalize(e, dim=-1).numpy())
    return np.concatenate(out)


def _clapscore(hyps, refs, res, gts, models):
    folder = need_folder(models.clap, "clapscore", "clap", "a CLAP checkpoint (transformers ClapModel)")
    sim = _ref_similarity(clap_text_embeddings, folder, hyps, refs)
    return sim.mean(), sim


# ------------------------------------------------------------------------------- SPICE
CORENLP = ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar")


def spice_folder(path) -> Path:
    """A folder with ``spice-1.0.jar`` and ``lib/`` holding the CoreNLP 3.6.0 jars."""
    p = need_folder(path, "spider", "spice", "SPICE (spice-1.0.jar with lib/" + " and lib/".join(CORENLP) + ")")
    missing = [n for n in ("spice-1.0.jar",) + tuple(f"lib/{j}" for j in CORENLP) if not (p / n).is_file()]
    if missing:
        raise CaptionError(f"{p}: SPIDEr needs SPICE, and this folder lacks {', '.join(missing)} "
                           "(pycocoevalcap downloads the CoreNLP jars at first use; that is not done here: "
                           "put them there yourself)")
    return p


def spice(res: dict, gts: dict, folder) -> tuple[float, np.ndarray]:
    p = spice_folder(folder)
    if shutil.which("java") is None:
        raise CaptionError("SPICE needs a Java runtime, and `java` is not on PATH")
    data = [{"image_id": i, "test": res[i][0], "refs": gts[i]} for i in res]
    with tempfile.TemporaryDirectory() as tmp:
        inp, outp = Path(tmp) / "in.json", Path(tmp) / "out.json"
        inp.write_text(json.dumps(data), encoding="utf-8")
        r = subprocess.run(["java", "-jar", "-Xmx8G", str(p / "spice-1.0.jar"), str(inp), "-out", str(outp),
                            "-subset", "-silent"], cwd=p, capture_output=True, text=True)
        if r.returncode != 0 or not outp.is_file():
            raise CaptionError(f"SPICE ({p / 'spice-1.0.jar'}) failed: {r.stderr.strip()[-300:]}")
        got = {d["image_id"]: float(d["scores"]["All"]["f"] or 0.0) for d in json.loads(outp.read_text())}
    s = np.array([got[i] for i in res])
    return float(s.mean()), s


def _spider(hyps, refs, res, gts, models):
    sp_corpus, sp = spice(res, gts, models.spice)
    c_corpus, c = _cider(hyps, refs, res, gts, models)
    return (sp_corpus + c_corpus) / 2, (sp + np.asarray(c)) / 2


_ONE = {"bleu_4": _bleu, "rouge_l": _rouge, "cider_d": _cider, "meteor": _meteor,
        "bertscore": _bertscore, "sbert_sim": _sbert_sim, "fense": _fense, "clapscore": _clapscore,
        "spider": _spider}


def folder_digest(path) -> str | None:
    """What a model folder contributes to a run identity: names, sizes and the first MiB of each file."""
    if not path:
        return None
    p = Path(path).expanduser()
    h = hashlib.sha256()
    for f in sorted(x for x in p.rglob("*") if x.is_file()):
        h.update(f.relative_to(p).as_posix().encode())
        h.update(str(f.stat().st_size).encode())
        with open(f, "rb") as fh:
            h.update(fh.read(1 << 20))
    return h.hexdigest()[:16]
