"""Caption generators that need no language model — the floor a generative captioner must beat —
and a local Hugging Face model plugged in as the generator.

* ``retrieval``: the caption of the training utterance nearest by cosine on the run's
  (fold-normalised) feature blocks.
* ``template``: a sentence filled from labels predicted by linear adapters on the same
  features: emotion (the view's labels), speaker gender and speech rate. Gender and rate
  are not annotated as labels; they are read from the training captions with a small
  keyword table (weak labels, :func:`slot_labels`), so the template only says what the
  captions themselves say.
* ``hf``: a local seq2seq or decoder folder generates from a prompt built from the
  predicted labels and the transcript (greedy decoding, no sampling: reproducible).
"""
from __future__ import annotations

import re

import numpy as np

from .errors import CaptionError

#: bump when a generator changes what it writes from the same inputs (run identity)
VERSION = "1"
METHODS = ("retrieval", "template", "hf")

_GENDER = {"zh": [("female", r"女"), ("male", r"男")],
           "en": [("female", r"\b(?:female|woman|girl|she|her)\b"), ("male", r"\b(?:male|man|boy|he|his)\b")]}
_RATE = {"zh": [("fast", r"很快|较快|急促|语速快|飞快"), ("slow", r"缓慢|较慢|偏慢|很慢|语速慢"),
                ("moderate", r"适中|平稳|正常")],
         "en": [("fast", r"\b(?:fast|quick|quickly|rapid|rapidly|hurried)\b"),
                ("slow", r"\b(?:slow|slowly|unhurried)\b"), ("moderate", r"\b(?:moderate|normal|steady)\b")]}
WORDS = {"zh": {"male": "男", "female": "女", "fast": "语速较快", "slow": "语速缓慢", "moderate": "语速适中",
                "angry": "愤怒", "happy": "开心", "sad": "悲伤", "neutral": "平静", "fear": "恐惧",
                "surprise": "惊讶", "disgust": "厌恶", "excited": "兴奋", "frustrated": "沮丧",
                "calm": "平静", "joy": "开心", "sadness": "悲伤", "anger": "愤怒", "boredom": "厌倦"},
         "en": {"male": "male", "female": "female", "fast": "fast", "slow": "slowly",
                "moderate": "at a moderate pace"}}


def _first(patterns, text: str) -> str | None:
    """The one class whose keyword occurs; None when none or several do."""
    hits = [name for name, pat in patterns if re.search(pat, text, re.I)]
    return hits[0] if len(hits) == 1 else None


def slot_labels(refs: list[list[str]], lang: str) -> dict[str, list[str | None]]:
    """Weak gender and rate labels per row, read from that row's reference captions."""
    out = {"gender": [], "rate": []}
    for r in refs:
        text = " ".join(r)
        out["gender"].append(_first(_GENDER[lang], text))
        out["rate"].append(_first(_RATE[lang], text))
    return out


def fill(dimension: str, lang: str, emotion: str | None, gender: str | None, rate: str | None,
         fallback: str) -> str:
    """The template sentence of ``dimension``; ``fallback`` (the commonest training caption) when
    the slots that dimension needs are unknown."""
    w = WORDS[lang]
    emo = w.get(emotion, emotion) if emotion else None
    g = w.get(gender) if gender else None
    rt = w.get(rate) if rate else None
    if lang == "zh":
        forms = {"speaker": g and f"{g}性说话人", "style": rt, "emotion": emo and f"说话人情绪{emo}",
                 "overall": emo and "，".join(x for x in (f"一位{g}性说话人" if g else "一位说话人", rt,
                                                        f"流露出{emo}的情绪") if x)}
    else:
        forms = {"speaker": g and f"a {g} speaker", "style": rt and f"speaks {rt}",
                 "emotion": emo and f"the speaker sounds {emo}",
                 "overall": emo and " ".join(x for x in (f"a {g} speaker" if g else "a speaker",
                                                        f"speaks {rt} and" if rt else "", f"sounds {emo}") if x)}
    return forms[dimension] or fallback


def retrieve(X_train, X_query, chunk: int = 1024) -> np.ndarray:
    """Row of ``X_train`` nearest to each query row by cosine similarity."""
    from sklearn.preprocessing import normalize

    A, B = normalize(X_train), normalize(X_query)
    out = np.empty(B.shape[0], np.int64)
    for i in range(0, B.shape[0], chunk):
        S = B[i:i + chunk] @ A.T
        S = S.toarray() if hasattr(S, "toarray") else np.asarray(S)
        out[i:i + chunk] = S.argmax(1)
    return out


def prompt(lang: str, dimension: str, emotion, gender, rate, transcript: str | None) -> str:
    w = WORDS[lang]
    if lang == "zh":
        dim = {"speaker": "说话人音色", "style": "说话风格", "emotion": "情绪", "overall": "整体"}[dimension]
        return (f"情绪：{w.get(emotion, emotion or '未知')}；性别：{w.get(gender, '未知') if gender else '未知'}；"
                f"语速：{w.get(rate, '未知') if rate else '未知'}；文本：{transcript or ''}。请描述{dim}：")
    return (f"emotion: {emotion or 'unknown'}; gender: {gender or 'unknown'}; rate: {rate or 'unknown'}; "
            f"transcript: {transcript or ''}. Describe the {dimension} of the speech:")


def hf_generate(folder, prompts: list[str], max_new_tokens: int = 40, batch_size: int = 16) -> list[str]:
    """Greedy generations of a local seq2seq (T5, BART …) or decoder (GPT-2, Qwen …) folder."""
    from pathlib import Path

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    p = Path(folder).expanduser()
    if not (p / "config.json").is_file():
        raise CaptionError(f"{p}: not a Hugging Face model folder (no config.json); caption.model must be "
                           "a local seq2seq or decoder folder")
    cfg = AutoConfig.from_pretrained(p)
    seq2seq = bool(getattr(cfg, "is_encoder_decoder", False))
    tok = AutoTokenizer.from_pretrained(p)
    model = (AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM).from_pretrained(p).eval()
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    if not seq2seq:
        tok.padding_side = "left"  # a decoder continues the prompt: pad on the left
    out = []
    with torch.no_grad():
        for i in range(0, len(prompts), batch_size):
            enc = tok(prompts[i:i + batch_size], return_tensors="pt", padding=True, truncation=True,
                      max_length=256)
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                 pad_token_id=tok.pad_token_id)
            if not seq2seq:
                gen = gen[:, enc["input_ids"].shape[1]:]
            out += [t.strip() for t in tok.batch_decode(gen, skip_special_tokens=True)]
    return out
