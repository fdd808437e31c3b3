"""openSMILE functionals (eGeMAPSv02: 88, ComParE_2016: 6373) on 16 kHz mono audio."""
from __future__ import annotations

import numpy as np

from .. import audio
from .base import Extractor, register


class _OpenSmile(Extractor):
    modality = "audio"
    feature_set = ""
    defaults = {"sample_rate": 16000, "frames": False, "max_frames": 50}
    frames_capable = True

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
        if self.config["frames"]:  # the low-level descriptors every 10 ms, for frame-level heads
            self._lld = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, self.feature_set),
                                        feature_level=opensmile.FeatureLevel.LowLevelDescriptors)

    def process_one(self, item):
        sr = self.config["sample_rate"]
        if not item.get("audio"):
            from ..errors import MediaError

            raise MediaError(f"utterance {item.get('id')}", "no audio file (e.g. a video-only take)")
        x = audio.load(item["audio"], sr, item.get("start"), item.get("end"))
        # process_signal builds a pandas frame per call; the numbers are what we keep
        v = np.asarray(self._smile.process_signal(x, sr).to_numpy()[0], dtype=np.float32)
        if self.config["frames"] and "_key" in item and np.isfinite(v).all():
            self.write_frames(item["_key"], np.nan_to_num(self._lld.process_signal(x, sr).to_numpy()))
        return v


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
