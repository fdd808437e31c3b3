"""Caption metrics against published / independently computed values, the Chinese path,
EmotionTalk's caption columns, the caption task and `affectbench captions score`."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from affectbench.captions import metrics as CM
from affectbench.captions.errors import CaptionError
from affectbench.captions.text import tokenize
from affectbench.errors import SpecError

from fixtures import emotiontalk_fixture as fx

if __import__("shutil").which("java"):
    CM.meteor_server(norm=False)  # the jar loads its tables (seconds) while the tests before it run

# aac-metrics' README example (Labbeti/aac-metrics, tests/test_readme_examples.py)
CANDS = ["a man is speaking", "rain falls"]
REFS = [["a man speaks.", "someone speaks.", "a man is speaking while a bird is chirping in the background"],
        ["rain is falling hard on a surface"]]


def test_chinese_tokenisers_differ_and_wrong_script_is_caught():
    assert tokenize("一位男性说话人声音清亮，语速较快！", "jieba") == ["一位", "男性", "说话", "人", "声音", "清亮",
                                                             "语速", "较", "快"]
    assert tokenize("男性，OK", "chars") == ["男", "性", "ok"]
    hyp, ref = ["男性说话人，语速较快"], [["一位男性说话人，语速很快"]]
    j = CM.score_captions(hyp, ref, how="jieba", metrics=["bleu_4", "rouge_l"])
    c = CM.score_captions(hyp, ref, how="chars", metrics=["bleu_4", "rouge_l"])
    # jieba: 男性 说话 人 语速 较 快 vs 一位 男性 说话 人 语速 很快 -> LCS 4 of 6 / 6
    assert j["items"]["rouge_l"][0] == pytest.approx(4 / 6)
    # chars: LCS 男性说话人语速快 = 8 of 9 hypothesis and 11 reference characters
    p, r = 8 / 9, 8 / 11
    assert c["items"]["rouge_l"][0] == pytest.approx((1 + 1.44) * p * r / (r + 1.44 * p))
    with pytest.raises(CaptionError, match="are Chinese.*'jieba' or 'chars'"):
        CM.score_captions(hyp, ref, how="words", metrics=["bleu_4"])
    w = CM.score_captions(["a man"], [["a man speaks"]], how="jieba", metrics=["rouge_l"])
    assert "no Chinese characters" in w["warnings"][0]


def test_missing_java_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(CM, "_METEOR", {})
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(CaptionError, match="Java runtime.*default-jre-headless"):
        CM.score_captions(["a"], [["a"]], how="words", metrics=["meteor"])


def test_spider_needs_a_local_spice(tmp_path):
    with pytest.raises(CaptionError, match="'spider' needs SPICE.*caption.spice = DIR"):
        CM.score_captions(["a"], [["a"]], metrics=["spider"])
    (tmp_path / "spice-1.0.jar").write_bytes(b"")
    with pytest.raises(CaptionError, match="lacks lib/stanford-corenlp-3.6.0.jar, lib/stanford-corenlp-3.6.0-models"):
        CM.score_captions(["a"], [["a"]], metrics=["spider"], models=CM.MetricModels(spice=str(tmp_path)))


# ------------------------------------------------------------------------ data and task
@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("et")
    return root, fx.build(root)


def test_emotiontalk_caption_columns(release):
    from affectbench import prepare

    root, utts = release
    df = prepare("emotiontalk", root).manifest.set_index("id")
    for u in utts[:12]:
        want = fx.captions(u, utts.index(u))
        r = df.loc[u.id]
        assert r["caption_speaker"] == want["spe_cap"] and r["caption_style"] == want["style_cap"]
        assert r["caption_emotion"] == want["emo_cap"]
        assert json.loads(r["caption_overall"]) == [want[f"caption_{i}"] for i in range(1, 6)]


def _spec(root, out, **caption):
    from affectbench import load_spec

    return load_spec(data={"name": "cap", "output_dir": str(out), "task": "caption",
                           "corpus": {"name": "emotiontalk", "root": str(root), "allow_partial": True},
                           "features": {"extractors": ["egemaps"]},
                           "caption": {"metrics": ["bleu_4", "rouge_l", "cider_d"], **caption}})


def test_caption_runs_retrieval_and_template(release, tmp_path, capsys, fresh_home):
    # fresh_home: the features of the fixture's WAVs must not be in the session's cache for other tests
    from affectbench import run

    root, _ = release
    r = run(_spec(root, tmp_path, method="retrieval", dimension="overall"))
    for f in ("spec.toml", "identity.json", "run.json", "metrics.json", "predictions.parquet", "report.md", "DONE"):
        assert (r.folder / f).is_file()
    p = pd.read_parquet(r.folder / "predictions.parquet")
    assert len(p) == 10 and set(p["id"].str[:6]) == {"G00003"}  # the official test group
    train = pd.read_parquet(r.folder / "predictions.parquet")  # the neighbour is a training utterance
    assert not train["neighbour"].str.startswith(("G00003", "G00001")).any()
    assert r.metrics["tokenize"] == "jieba" and "jieba" in r.report.read_text()
    # fixture captions follow the audio label, whose pitch eGeMAPS sees: retrieval is far above chance
    assert r.metrics["pooled"]["rouge_l"] > 0.7
    again = run(_spec(root, tmp_path, method="retrieval", dimension="overall"))
    assert again.reused
    from affectbench.cli import _summary

    _summary(again)  # what `affectbench run` prints for a caption run
    assert "overall captions by retrieval" in capsys.readouterr().out
    t = run(_spec(root, tmp_path, method="template", dimension="style"))
    slots = json.loads((t.folder / "run.json").read_text())["protocol"]["folds"][0]["slots"]
    assert slots["rate"]["classes"] == ["fast", "moderate", "slow"] and slots["gender"]["trained"]
    pt = pd.read_parquet(t.folder / "predictions.parquet")
    assert set(pt["caption"]) <= {"语速较快", "语速缓慢", "语速适中", "语速突然升高"} | set(fx.STYLE.values())
    assert t.folder != r.folder


def test_caption_spec_errors(release, tmp_path, monkeypatch, fresh_home):
    root, _ = release
    with pytest.raises(SpecError, match="'caption.dimension' = 'voice' is not one of speaker, style"):
        _spec(root, tmp_path, dimension="voice")
    with pytest.raises(SpecError, match="'hf' needs caption.model"):
        _spec(root, tmp_path, method="hf")
    with pytest.raises(CaptionError, match="'bertscore' needs a local model folder.*caption.bertscore = DIR"):
        _spec(root, tmp_path, metrics=["rouge_l", "bertscore"])
    from affectbench import run

    with pytest.raises(CaptionError, match="emotiontalk caption_overall: 200 of 200 captions are Chinese.*'jieba' or 'chars'"):
        run(_spec(root, tmp_path / "runs", tokenize="words"))  # refused before any feature is extracted
    monkeypatch.setattr(fx, "captions", lambda u, i: {})  # a copy whose audio JSONs carry no captions
    fx.build(tmp_path / "bare")
    with pytest.raises(CaptionError, match="no 'caption_overall' captions"):
        run(_spec(tmp_path / "bare", tmp_path / "runs"))


# ------------------------------------------------------------------------------------ CLI
def _cli(capsys, monkeypatch, *args):
    """`affectbench captions score ARGS` through the CLI's own entry point (errors: one line)."""
    from affectbench.cli import main

    monkeypatch.setattr(sys, "argv", ["affectbench", "captions", "score", *map(str, args)])
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code or 0
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


def test_captions_score_cli(tmp_path, capsys, monkeypatch):
    refs = tmp_path / "refs.jsonl"
    refs.write_text('{"id": "a", "caption": "a man speaks."}\n{"id": "a", "caption": "someone speaks"}\n'
                    '{"id": "b", "captions": ["rain is falling hard on a surface"]}\n', encoding="utf-8")
    hyps = tmp_path / "hyps.csv"
    hyps.write_text("id,caption\na,a man speaks\n", encoding="utf-8")
    r = _cli(capsys, monkeypatch, refs, hyps, "--tokenize", "words", "-m", "rouge_l")
    assert r.returncode == 2 and "1 of 2 ids have no caption" in r.stderr and "Traceback" not in r.stderr
    r = _cli(capsys, monkeypatch, refs, hyps, "--tokenize", "words", "-m", "rouge_l", "-m", "cider_d", "--allow-missing", "--json")
    out = json.loads(r.stdout)
    assert out["missing"] == 1 and out["corpus"]["rouge_l"] == pytest.approx(0.5)
    hyps.write_text("id,caption\na,男性\nb,女性\n", encoding="utf-8")
    r = _cli(capsys, monkeypatch, refs, hyps, "--tokenize", "words", "-m", "rouge_l")
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "use tokenize 'jieba' or 'chars'" in r.stderr
    assert "(hypotheses): 2 of 2 captions are Chinese" in r.stderr and "Traceback" not in r.stderr
    hyps.write_text("id,caption\na,x\na,y\n", encoding="utf-8")
    assert "duplicate id a" in _cli(capsys, monkeypatch, refs, hyps).stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a"}\n', encoding="utf-8")
    assert "bad.jsonl:1: expected a JSON object with 'id' and 'caption'" in _cli(capsys, monkeypatch, refs, bad).stderr


# ------------------------------------------------------- METEOR (Java) tests, started early
@pytest.fixture(scope="module")
def english():
    return CM.score_captions(CANDS, REFS, how="words", metrics=["bleu_4", "rouge_l", "cider_d"])


def test_cider_d_matches_the_published_values(english):
    # aac-metrics test_example_3 (coco-caption CIDEr-D): corpus 0.9614, per caption [1.3641, 0.5587]
    assert english["corpus"]["cider_d"] == pytest.approx(0.9614, abs=1e-4)
    assert english["items"]["cider_d"] == pytest.approx([1.3641, 0.5587], abs=1e-4)


def test_bleu_4_is_the_coco_corpus_bleu(english):
    # counted by hand from the tokens: clipped n-gram matches 5/6, 3/4, 2/2, 1/1; test length 6,
    # closest reference lengths 3 + 7 = 10 -> brevity penalty exp(1 - 10/6)
    want = math.exp(1 - 10 / 6) * (5 / 6 * 3 / 4 * 1 * 1) ** 0.25
    assert english["corpus"]["bleu_4"] == pytest.approx(want, rel=1e-6)
    from pycocoevalcap.bleu.bleu import Bleu  # and BLEU-1 = aac-metrics' published 0.4278

    gts = {i: [" ".join(tokenize(x, "words")) for x in r] for i, r in enumerate(REFS)}
    res = {i: [" ".join(tokenize(c, "words"))] for i, c in enumerate(CANDS)}
    assert Bleu(4).compute_score(gts, res, verbose=0)[0][0] == pytest.approx(0.4278, abs=1e-4)


def test_rouge_l_matches_rouge_score_lcs(english):
    # independent: Google's rouge-score LCS precision/recall, COCO's F with beta = 1.2, max over refs
    from rouge_score.rouge_scorer import _score_lcs

    want = []
    for c, refs in zip(CANDS, REFS):
        ss = [_score_lcs(tokenize(r, "words"), tokenize(c, "words")) for r in refs]
        p, r = max(s.precision for s in ss), max(s.recall for s in ss)
        want.append((1 + 1.44) * p * r / (r + 1.44 * p))
    assert english["items"]["rouge_l"] == pytest.approx(want, rel=1e-9)
    assert english["corpus"]["rouge_l"] == pytest.approx(sum(want) / 2)


def _meteor_by_hand(m, h, r, chunks):
    # METEOR 1.5, English defaults (Denkowski & Lavie 2014): alpha .85, beta .2, gamma .6;
    # Han characters are neither function words nor stemmed, so only exact matches count
    p, rc = m / h, m / r
    fmean = p * rc / (0.85 * p + 0.15 * rc)
    return fmean * (1 - 0.6 * (chunks / m) ** 0.2)


def test_meteor_jar_matches_the_published_formula_on_chinese_characters(java):
    out = CM.score_captions(["甲乙丙", "甲 乙 丙 己 庚", "今天天气很好"], [["甲乙丁戊"], ["甲乙丁戊己庚"], ["今天天气很好"]],
                            how="chars", metrics=["meteor"])
    assert out["items"]["meteor"][0] == pytest.approx(_meteor_by_hand(2, 3, 4, 1), abs=1e-6)
    assert out["items"]["meteor"][1] == pytest.approx(_meteor_by_hand(4, 5, 6, 2), abs=1e-6)
    assert out["items"]["meteor"][2] == pytest.approx(1.0)  # a full exact match has no penalty
    assert CM.meteor_server(False) is CM.meteor_server(False)  # one Java process, reused
    # jieba's words stay words (COCO's -norm would split them into characters again)
    j = CM.score_captions(["男性 说话"], [["男性说话人"]], how="jieba", metrics=["meteor"])
    assert j["items"]["meteor"][0] == pytest.approx(_meteor_by_hand(2, 2, 3, 1), abs=1e-6)  # 男性 说话 | 男性 说话 人


def test_empty_captions(java):
    with pytest.raises(CaptionError, match="item 0 has no reference"):
        CM.score_captions(["a"], [[" "]], how="words", metrics=["bleu_4"])
    out = CM.score_captions(["", "男声低沉"], [["男声低沉"], ["男声低沉"]], how="chars",
                            metrics=["bleu_4", "rouge_l", "cider_d", "meteor"])
    assert out["empty_hypotheses"] == 1
    assert all(out["items"][k][0] == pytest.approx(0, abs=1e-6) for k in out["items"])
    assert out["items"]["rouge_l"][1] == pytest.approx(1.0) and out["items"]["meteor"][1] == pytest.approx(1.0)
    with pytest.raises(CaptionError, match="unknown caption metric 'blue'"):
        CM.score_captions(["a"], [["a"]], metrics=["blue"])
