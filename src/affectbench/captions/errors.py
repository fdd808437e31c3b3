"""The one error class of the caption task (an AffectbenchError: the CLI prints one line)."""
from ..errors import AffectbenchError


class CaptionError(AffectbenchError):
    """Captions, caption files or caption-metric models are missing or unusable."""
