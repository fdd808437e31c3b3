"""Tokenisation done by us before any lexical metric sees a caption.

The COCO scorers (BLEU, ROUGE-L, CIDEr-D, METEOR) split on spaces, so Chinese must be
segmented first, or a whole sentence would count as one "word". ``jieba`` (dictionary
word segmentation) and ``chars`` (one token per Han character, Latin words kept whole)
are for Chinese; ``words`` (lower case, punctuation dropped, split on spaces: what the
COCO PTB tokenizer does to English) is for English. Which one scored a result is part of
that result (reports and metrics.json name it).
"""
from __future__ import annotations

import re
import unicodedata

from .errors import CaptionError

TOKENIZERS = ("jieba", "chars", "words")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")


def _is_punct(tok: str) -> bool:
    return all(unicodedata.category(c)[0] in "PSZ" or c.isspace() for c in tok)


def tokenize(text: str, how: str) -> list[str]:
    """Tokens of one caption, lower-cased, punctuation dropped."""
    s = unicodedata.normalize("NFKC", str(text)).lower()
    if how == "words":
        return [w for w in re.split(r"\s+", re.sub(r"[^\w\s']", " ", s)) if w and not _is_punct(w)]
    if how == "chars":
        out = []
        for m in re.finditer(rf"{_HAN.pattern}|{_LATIN_WORD.pattern}", s):
            out.append(m.group(0))
        return out
    if how == "jieba":
        return [t for t in _jieba().lcut(s) if t.strip() and not _is_punct(t)]
    raise CaptionError(f"caption tokeniser '{how}' is not one of {', '.join(TOKENIZERS)}")


_JIEBA = None


def _jieba():
    """One jieba tokenizer, initialised once and quietly (its dictionary load logs to stderr)."""
    global _JIEBA
    if _JIEBA is None:
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        _JIEBA = jieba.Tokenizer()
        _JIEBA.initialize()
    return _JIEBA


def han_share(text: str) -> float:
    """Share of letters that are Han characters (0 for a caption without letters)."""
    letters = [c for c in str(text) if c.isalpha()]
    return sum(bool(_HAN.match(c)) for c in letters) / len(letters) if letters else 0.0


def check_script(captions: list[str], how: str, source: str) -> list[str]:
    """Warnings for captions in the wrong script for the tokeniser; an error when most are.

    ``words`` on Chinese turns a whole sentence into one token, so every lexical metric
    would be near zero: refused when more than half the captions are Chinese. ``jieba``
    or ``chars`` on English still tokenise it (by words), so that is only a warning.
    """
    if not captions:
        return []
    zh = [han_share(c) > 0.5 for c in captions]
    n_zh = sum(zh)
    if how == "words" and n_zh:
        if n_zh * 2 > len(captions):
            raise CaptionError(f"{source}: {n_zh} of {len(captions)} captions are Chinese, but tokenize = "
                               "'words' splits on spaces (a Chinese sentence would be one token); use "
                               "tokenize 'jieba' or 'chars'")
        return [f"{source}: {n_zh} of {len(captions)} captions are Chinese, tokenised by spaces ('words')"]
    if how in ("jieba", "chars"):
        n_en = sum(1 for c, z in zip(captions, zh) if not z and han_share(c) == 0 and c.strip())
        if n_en:
            return [f"{source}: {n_en} of {len(captions)} captions contain no Chinese characters, but "
                    f"tokenize = '{how}' is meant for Chinese (English captions want 'words')"]
    return []
