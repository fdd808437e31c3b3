"""Model-based caption metrics and the Hugging Face generator, on tiny random models built
from configs in a temp dir (nothing downloaded): BERTScore against its published definition
computed here independently, SBERT similarity / FENSE, CLAPScore, GPT-2 and T5 generators."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from affectbench.captions import baselines as B
from affectbench.captions import metrics as CM
from affectbench.captions.errors import CaptionError

CHARS = list("一位男女性说话人声音清亮低沉语速较快缓慢适中情绪平静愤怒开心悲伤的很有点了，")
WORDS = ["a", "man", "woman", "speaks", "is", "speaking", "slowly", "fast", "angry", "calm"]
HYPS = ["男性说话人声音清亮", "女性语速缓慢", "a man speaks fast"]
REFS = [["一位男性说话人，声音清亮", "男声低沉"], ["女性说话人语速缓慢"], ["a man is speaking", "a man speaks"]]


def _vocab(d):
    d.mkdir(parents=True, exist_ok=True)
    (d / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + CHARS + WORDS) + "\n",
                                 encoding="utf-8")
    return d / "vocab.txt"


def _bert(d, cls=None, **cfg):
    from transformers import BertConfig, BertModel, BertTokenizer

    vocab = _vocab(d)
    BertTokenizer(vocab_file=str(vocab)).save_pretrained(d)  # no model_max_length: bert-score must cope
    torch.manual_seed(0)
    c = BertConfig(vocab_size=len(vocab.read_text().split()), hidden_size=32, num_hidden_layers=2,
                   num_attention_heads=2, intermediate_size=37, **cfg)
    (cls or BertModel)(c).save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return _bert(tmp_path_factory.mktemp("m") / "bert")


def _bertscore_by_hand(folder, layer, hyp, refs):
    """BERTScore F1 (Zhang et al. 2020): greedy cosine matching of layer-`layer` token embeddings,
    [CLS]/[SEP] left out, no idf, no rescaling; the best reference."""
    from transformers import AutoModel, AutoTokenizer

    tok, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()

    def emb(s):
        enc = tok(s, return_tensors="pt")
        with torch.no_grad():
            h = model(**enc, output_hidden_states=True).hidden_states[layer][0, 1:-1]
        return torch.nn.functional.normalize(h, dim=-1).numpy()

    best = 0.0
    for r in refs:
        S = emb(hyp) @ emb(r).T
        p, rc = S.max(1).mean(), S.max(0).mean()
        best = max(best, 2 * p * rc / (p + rc))
    return best


def test_bertscore_matches_its_definition(bert):
    out = CM.score_captions(HYPS, REFS, how="jieba", metrics=["bertscore"],
                            models=CM.MetricModels(bertscore=str(bert), bertscore_layer=1))
    want = [_bertscore_by_hand(bert, 1, h, r) for h, r in zip(HYPS, REFS)]
    assert out["items"]["bertscore"] == pytest.approx(want, abs=1e-5)
    assert CM.bertscore_layer(bert, None) == 2  # an unknown model: its last layer
    with pytest.raises(CaptionError, match="'bertscore' needs a BERT-like model.*caption.bertscore = DIR"):
        CM.score_captions(HYPS, REFS, how="jieba", metrics=["bertscore"])


@pytest.fixture(scope="module")
def sbert(bert, tmp_path_factory):
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Pooling, Transformer

    d = tmp_path_factory.mktemp("m") / "sbert"
    t = Transformer(str(bert))
    dim = t.get_embedding_dimension() if hasattr(t, "get_embedding_dimension") else t.get_word_embedding_dimension()
    SentenceTransformer(modules=[t, Pooling(dim)], device="cpu").save(str(d))
    return d


def _echecker(d, error_bias):
    from transformers import BertForSequenceClassification

    _bert(d, BertForSequenceClassification, num_labels=2, id2label={0: "ok", 1: "error"},
          label2id={"ok": 0, "error": 1})
    m = BertForSequenceClassification.from_pretrained(d)
    with torch.no_grad():
        m.classifier.weight.zero_()
        m.classifier.bias.copy_(torch.tensor([0.0, error_bias]))
    m.save_pretrained(d)
    return d


def test_sbert_similarity_and_fense(sbert, tmp_path):
    from sentence_transformers import SentenceTransformer

    m = SentenceTransformer(str(sbert), device="cpu")
    want = [float(np.mean([m.encode(h, normalize_embeddings=True) @ m.encode(r, normalize_embeddings=True)
                           for r in rs])) for h, rs in zip(HYPS, REFS)]
    got = CM.score_captions(HYPS, REFS, how="jieba", metrics=["sbert_sim"], models=CM.MetricModels(sbert=str(sbert)))
    assert got["items"]["sbert_sim"] == pytest.approx(want, abs=1e-5)
    fluent = CM.MetricModels(sbert=str(sbert), fense_echecker=str(_echecker(tmp_path / "ok", -10.0)))
    broken = CM.MetricModels(sbert=str(sbert), fense_echecker=str(_echecker(tmp_path / "err", 10.0)))
    f_ok = CM.score_captions(HYPS, REFS, how="jieba", metrics=["fense"], models=fluent)["items"]["fense"]
    f_err = CM.score_captions(HYPS, REFS, how="jieba", metrics=["fense"], models=broken)["items"]["fense"]
    assert f_ok == pytest.approx(want, abs=1e-5)  # P(error) ~ 0: no penalty
    assert f_err == pytest.approx([0.1 * w for w in want], abs=1e-5)  # P(error) > 0.9: x (1 - 0.9)
    with pytest.raises(CaptionError, match="'fense' needs a fluency-error detector.*fense_echecker"):
        CM.score_captions(HYPS, REFS, how="jieba", metrics=["fense"], models=CM.MetricModels(sbert=str(sbert)))


def test_clapscore_on_a_tiny_clap(tmp_path):
    from transformers import BertTokenizer, ClapAudioConfig, ClapConfig, ClapModel, ClapTextConfig

    d = tmp_path / "clap"
    BertTokenizer(vocab_file=str(_vocab(d))).save_pretrained(d)
    tc = ClapTextConfig(vocab_size=len(CHARS) + len(WORDS) + 5, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=20, max_position_embeddings=64, projection_dim=8)
    ac = ClapAudioConfig(window_size=4, spec_size=32, num_mel_bins=16, patch_size=4, patch_stride=(4, 4),
                         hidden_size=16, patch_embeds_hidden_size=8, depths=[1, 1], num_attention_heads=[1, 1],
                         projection_dim=8)
    torch.manual_seed(0)
    ClapModel(ClapConfig(text_config=tc.to_dict(), audio_config=ac.to_dict(), projection_dim=8)).save_pretrained(d)
    models = CM.MetricModels(clap=str(d))
    same = CM.score_captions(["男声低沉"], [["男声低沉"]], how="jieba", metrics=["clapscore"], models=models)
    assert same["corpus"]["clapscore"] == pytest.approx(1.0, abs=1e-5)
    emb = CM.clap_text_embeddings(d, HYPS + [x for r in REFS for x in r])
    want = [float(np.mean(emb[3:5] @ emb[0])), float(emb[5] @ emb[1]), float(np.mean(emb[6:8] @ emb[2]))]
    got = CM.score_captions(HYPS, REFS, how="jieba", metrics=["clapscore"], models=models)
    assert got["items"]["clapscore"] == pytest.approx(want, abs=1e-5)


def _word_tokenizer(d):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<pad>", "<unk>", "</s>"] + CHARS + WORDS + ["：", "；", "。"])}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split("", "isolated")  # one token per character
    PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", pad_token="<pad>",
                            eos_token="</s>").save_pretrained(d)
    return len(vocab)


def test_hf_generators_gpt2_and_t5(tmp_path, fresh_home):
    from transformers import GPT2Config, GPT2LMHeadModel, T5Config, T5ForConditionalGeneration

    n = _word_tokenizer(tmp_path / "gpt2")
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=n, n_positions=512, n_embd=16, n_layer=1, n_head=2, bos_token_id=2,
                               eos_token_id=2, pad_token_id=0)).save_pretrained(tmp_path / "gpt2")
    _word_tokenizer(tmp_path / "t5")
    T5ForConditionalGeneration(T5Config(vocab_size=n, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                                        decoder_start_token_id=0, pad_token_id=0,
                                        eos_token_id=2)).save_pretrained(tmp_path / "t5")
    prompts = [B.prompt("zh", "style", "angry", "male", "fast", "你怎么又迟到了"),
               B.prompt("zh", "style", "sad", None, None, "好吧")]
    assert "情绪：愤怒；性别：男；语速：语速较快" in prompts[0] and "性别：未知" in prompts[1]
    for name in ("gpt2", "t5"):
        out = B.hf_generate(tmp_path / name, prompts, max_new_tokens=6)
        again = B.hf_generate(tmp_path / name, prompts, max_new_tokens=6)
        assert len(out) == 2 and all(isinstance(s, str) for s in out) and out == again  # greedy: reproducible
        assert not any(p[:10] in s for p, s in zip(prompts, out))  # the decoder's prompt is not echoed
    with pytest.raises(CaptionError, match="not a Hugging Face model folder"):
        B.hf_generate(tmp_path, prompts)
    # plugged into a caption run: prompts from the predicted labels and the transcript
    import json

    import pandas as pd

    from affectbench import load_spec, run
    from fixtures import emotiontalk_fixture as fx

    fx.build(tmp_path / "et")
    r = run(load_spec(data={"name": "hf", "output_dir": str(tmp_path / "runs"), "task": "caption",
                            "corpus": {"name": "emotiontalk", "root": str(tmp_path / "et"), "allow_partial": True},
                            "features": {"extractors": ["egemaps"]},
                            "caption": {"method": "hf", "model": str(tmp_path / "gpt2"), "dimension": "emotion",
                                        "max_new_tokens": 4, "metrics": ["rouge_l"]}}))
    p = pd.read_parquet(r.folder / "predictions.parquet")
    assert len(p) == 10 and p["caption"].map(type).eq(str).all() and p["pred_emotion"].notna().all()
    ident = json.loads((r.folder / "identity.json").read_text())
    assert ident["spec"]["caption"]["model"] == CM.folder_digest(tmp_path / "gpt2")  # content, not path
