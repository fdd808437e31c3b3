"""openSMILE functionals (eGeMAPSv02: 88, ComParE_2016: 6373) on 16 kHz mono audio."""
from __future__ import annotations

import numpy as np

from .. import audio
from .base import Extractor, register


class _OpenSmile(Extractor):
    modality = "audio"
    feature_set = ""
    defaults = {"sample_rate": 16000}

    def versions(self):
        from importlib.metadata import version  # importing opensmile itself costs ~1 s

        return {"opensmile": version("opensmile")}

    def preload(self):
        import opensmile  # noqa: F401

    def setup(self):
        import opensmile

        self._smile = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, self.feature_set),
                                      feature_level=opensmile.FeatureLevel.Functionals)
        self.feature_names = list(self._smile.feature_names)

    def process_one(self, item):
        sr = self.config["sample_rate"]
        if not item.get("audio"):
            from ..errors import MediaError

            raise MediaError(f"utterance {item.get('id')}", "no audio file (e.g. a video-only take)")
        x = audio.load(item["audio"], sr, item.get("start"), item.get("end"))
        # process_signal builds a pandas frame per call; the numbers are what we keep
        return np.asarray(self._smile.process_signal(x, sr).to_numpy()[0], dtype=np.float32)


@register
class EGeMAPS(_OpenSmile):
    name = "egemaps"
    description = "openSMILE eGeMAPSv02 functionals (88)"
    feature_set = "eGeMAPSv02"
    dim = 88


@register
class ComParE(_OpenSmile):
    name = "compare"
    description = "openSMILE ComParE_2016 functionals (6373)"
    feature_set = "ComParE_2016"
    dim = 6373
    chunk_size = 8
