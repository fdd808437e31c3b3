"""What the service refuses, and how: one :class:`Limits` object and one error type.

Status codes (docs/serve.md has the table):

- 413 the upload is larger than ``max_upload_bytes`` **or** its media is longer than
  ``max_duration_s``. Duration is a size too (a size in seconds rather than bytes): the
  remedy is the same, send less, so clients that already handle 413 need nothing new.
- 415 not audio or video that the decoder reads (wrong type, corrupt, truncated).
- 422 the request is well formed but holds nothing to work on (empty text, empty file,
  no model for its modality) or decoding ran past ``decode_timeout_s`` (a pathological
  file: retrying will not help, so not a 5xx).
- 408 the client sent its body slower than ``read_timeout_s`` between chunks.
- 503 (+ ``Retry-After``) more than ``max_jobs + max_queue`` media jobs at once, or more than
  ``max_text_queue`` text requests waiting.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import AffectbenchError


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int = 100 * 1024 * 1024
    max_duration_s: float = 600.0
    decode_timeout_s: float = 60.0
    read_timeout_s: float = 10.0
    max_jobs: int = 2          # media jobs running at once (worker threads)
    max_queue: int = 64        # media jobs admitted and waiting; beyond: 503
    max_text_queue: int = 1024  # text requests waiting for the batcher; beyond: 503
    max_text_chars: int = 5000
    max_texts: int = 256       # sentences in one JSON request
    max_batch: int = 64        # texts per model call, across clients
    max_audio_batch: int = 8   # decoded clips per model call, across clients
    batch_wait_s: float = 0.005  # how long the text batcher waits for company
    retry_after_s: int = 2

    def to_dict(self) -> dict:
        return asdict(self)


class ServeError(AffectbenchError):
    """A refusal the client can act on: HTTP status, a short machine-readable code, one line."""

    def __init__(self, status: int, error: str, detail: str, headers: dict | None = None):
        self.status, self.error, self.detail = status, error, detail
        self.headers = headers or {}
        super().__init__(detail)
