"""Feature blocks as heads receive them: one per extractor, pooled or frame sequences.

Fusion, context and caption heads take blocks, never one concatenated matrix, so that each
modality keeps its own encoder, normaliser and mask. A row whose modality is missing (an
EmotionTalk utterance without video, a MELD clip that failed to decode) has ``present`` False
and zeros in ``X``; heads must mask it rather than read the zeros as evidence.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Block:
    name: str  # the extractor's name, e.g. "egemaps"
    modality: str  # "audio" | "text" | "video" | "image"
    X: np.ndarray  # [n, d] pooled, or [n, t, d] frames (zero-padded after each row's length)
    present: np.ndarray  # [n] bool: this modality exists for the row
    lengths: np.ndarray | None = None  # [n] frames per row (sequences only)

    @property
    def is_sequence(self) -> bool:
        return self.X.ndim == 3

    @property
    def dim(self) -> int:
        return int(self.X.shape[-1])

    def rows(self, idx) -> "Block":
        return Block(self.name, self.modality, self.X[idx], self.present[idx],
                     None if self.lengths is None else self.lengths[idx])

    def __len__(self) -> int:
        return int(self.X.shape[0])


def rows(blocks: list[Block], idx) -> list[Block]:
    return [b.rows(idx) for b in blocks]


def check_blocks(blocks: list[Block], *, need_sequences: bool = False, where: str = "head") -> int:
    """The number of rows; refuses blocks that disagree on it or lack what the head needs."""
    from ..errors import SpecError

    if not blocks:
        raise SpecError(f"{where}: no feature blocks")
    n = {len(b) for b in blocks}
    if len(n) != 1:
        raise SpecError(f"{where}: feature blocks cover different utterance sets "
                        f"({', '.join(f'{b.name}: {len(b)}' for b in blocks)})")
    if need_sequences:
        flat = [b.name for b in blocks if not b.is_sequence]
        if flat:
            raise SpecError(f"{where} works on frame sequences, but {', '.join(flat)} give pooled "
                            "vectors: set frames = true in [features.options.<extractor>] (or pick an "
                            "utterance-level head)")
    return n.pop()
